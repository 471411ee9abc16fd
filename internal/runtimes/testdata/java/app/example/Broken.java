package example;

/** Classes whose loading fails in the ways AWS's runtime reports. */
public class Broken {
    public static class StaticInit {
        static {
            if (true) {
                throw new IllegalStateException("static init failed");
            }
        }

        public String handle(String s) {
            return s;
        }
    }

    public static class NoCtor implements com.amazonaws.services.lambda.runtime.RequestHandler<String, String> {
        public NoCtor(int x) {
        }

        @Override
        public String handleRequest(String s, com.amazonaws.services.lambda.runtime.Context c) {
            return s;
        }
    }

    public static class CtorThrows implements com.amazonaws.services.lambda.runtime.RequestHandler<String, String> {
        public CtorThrows() {
            throw new IllegalArgumentException("constructor failed");
        }

        @Override
        public String handleRequest(String s, com.amazonaws.services.lambda.runtime.Context c) {
            return s;
        }
    }

    public static class NotAHandler {
    }
}
