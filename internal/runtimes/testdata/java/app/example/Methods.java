package example;

import com.amazonaws.services.lambda.runtime.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Map;

/** Handlers named Class::method, with the signatures AWS's runtime accepts. */
public class Methods {
    public static String upper(String s) {
        return s.toUpperCase();
    }

    public Integer twice(Integer n, Context context) {
        return n * 2;
    }

    // The overload with a Context wins over the shorter one.
    public String pick(String s) {
        return "short";
    }

    public String pick(String s, Context c) {
        return "long " + c.getMemoryLimitInMB();
    }

    public void stream(InputStream in, OutputStream out, Context c) throws IOException {
        byte[] b = in.readAllBytes();
        out.write(("[" + new String(b) + "]").getBytes());
    }

    public void nothing(Map<String, Object> m) {
    }

    public String props() {
        return System.getProperty("nimbus.test") + " " + (Runtime.getRuntime().maxMemory() / (1024 * 1024))
                + " " + System.getenv("AWS_EXECUTION_ENV");
    }

    public String boom(Map<String, Object> m) {
        return helper();
    }

    private static String helper() {
        throw new IllegalStateException("boom");
    }

    public int integer(Order o) {
        return o.getQuantity();
    }
}
