package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Java Lambda function, deployed with --runtime java21 --handler
 * example.Hello::handleRequest (or example.Hello) from the jar that
 * `mvn package` builds.
 */
public class Hello implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    private static int invocations; // survives across invocations of one environment

    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        invocations++;
        Object name = event == null ? null : event.get("name");
        if (name == null) {
            name = "world";
        }
        context.getLogger().log("greeting " + name + "\n");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("message", "Hello, " + name + "!");
        out.put("requestId", context.getAwsRequestId());
        out.put("function", context.getFunctionName());
        out.put("remainingMs", context.getRemainingTimeInMillis());
        out.put("count", invocations);
        return out;
    }
}
