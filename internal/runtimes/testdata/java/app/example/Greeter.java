package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

/** Hello world: a RequestHandler of a map, answering a string. */
public class Greeter implements RequestHandler<Map<String, Object>, String> {
    @Override
    public String handleRequest(Map<String, Object> event, Context context) {
        context.getLogger().log("hello from " + context.getFunctionName() + "\n");
        System.out.println("event " + event);
        return "Hello, " + event.get("name") + "!";
    }
}
