package nimbus.runtime;

import java.io.File;
import java.io.IOError;
import java.io.PrintStream;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Nimbus's runtime client for the java17, java21 and java25 runtimes: the
 * counterpart of AWS's aws-lambda-java-runtime-interface-client, written
 * against the JDK alone. It loads the function's classes from the task root
 * (/var/task, its lib/*.jar, then /opt/java/lib/*.jar), resolves the
 * handler as AWS's client does, and serves invocations from the Runtime
 * API until the environment is shut down.
 */
public final class Bootstrap {
    private static final String USER_EXCEPTION = "Runtime.UserException";
    private static final String BAD_FUNCTION_CODE = "Runtime.BadFunctionCode";

    private Bootstrap() {
    }

    public static void main(String[] args) throws Exception {
        String handler = args.length > 0 ? args[0] : System.getenv("_HANDLER");
        RuntimeApi api = new RuntimeApi(System.getenv("AWS_LAMBDA_RUNTIME_API"));
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(out);
        System.setErr(new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.err), true, StandardCharsets.UTF_8));

        String taskRoot = System.getProperty("user.dir");
        ClassLoader cl = new URLClassLoader(classPath(taskRoot, "/opt/java"), ClassLoader.getSystemClassLoader());
        Thread.currentThread().setContextClassLoader(cl);

        Handlers.Handler h;
        try {
            h = Handlers.load(handler == null ? "" : handler, cl);
        } catch (UserFault f) {
            System.out.print(f.reportable());
            System.out.flush();
            api.initError(BAD_FUNCTION_CODE, errorBody(f.msg, f.exception, null));
            System.exit(1);
            return;
        }
        ContextFactory contexts = new ContextFactory(cl);

        while (true) {
            RuntimeApi.Response inv = api.next();
            if (inv.status != 200) {
                throw new IllegalStateException("the Runtime API answered /next with status " + inv.status);
            }
            String requestId = inv.header("Lambda-Runtime-Aws-Request-Id");
            String trace = inv.header("Lambda-Runtime-Trace-Id");
            if (trace != null) {
                System.setProperty("com.amazonaws.xray.traceHeader", trace);
            } else {
                System.clearProperty("com.amazonaws.xray.traceHeader");
            }
            Object ctx = contexts.make(inv);
            byte[] result;
            try {
                result = h.call(inv.body, ctx);
            } catch (Throwable t) {
                UserFault.filter(t);
                UserFault fault = UserFault.of(t);
                // Logged before the answer (AWS logs after it), so the
                // line belongs to this invocation's log, before its END.
                System.out.print(fault.reportable());
                System.out.flush();
                System.err.flush();
                if (t instanceof UserFault) {
                    api.invocationError(requestId, BAD_FUNCTION_CODE, errorBody(fault.msg, fault.exception, null));
                } else {
                    api.invocationError(requestId, USER_EXCEPTION, errorBody(fault.msg, fault.exception, t.getStackTrace()));
                }
                if (t instanceof VirtualMachineError || t instanceof IOError || fault.fatal) {
                    System.exit(1);
                }
                Thread.interrupted();
                continue;
            }
            System.out.flush();
            System.err.flush();
            api.respond(requestId, result);
            Thread.interrupted();
        }
    }

    /** The function's class path as AWS's CustomerClassLoader builds it. */
    static URL[] classPath(String taskRoot, String optRoot) throws Exception {
        List<URL> urls = new ArrayList<>();
        urls.add(new URL("file", null, -1, new File(taskRoot).getPath() + "/"));
        for (String dir : new String[] {taskRoot + "/lib", optRoot + "/lib"}) {
            File d = new File(dir);
            String[] names = d.isDirectory() ? d.list((p, n) -> n.length() > 4 && n.endsWith(".jar")) : null;
            if (names == null) {
                continue;
            }
            Arrays.sort(names);
            for (String n : names) {
                urls.add(new URL("file", null, -1, d.getPath() + "/" + n));
            }
        }
        return urls.toArray(new URL[0]);
    }

    /** AWS's ErrorRequest as Gson writes it (nulls left out): errorMessage, errorType and, for exceptions, stackTrace. */
    static byte[] errorBody(String message, String type, StackTraceElement[] stack) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (message != null) {
            m.put("errorMessage", message);
        }
        if (type != null) {
            m.put("errorType", type);
        }
        if (stack != null) {
            List<Object> frames = new ArrayList<>();
            for (StackTraceElement e : stack) {
                frames.add(e.toString());
            }
            m.put("stackTrace", frames);
        }
        return Json.write(m).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Builds the Context passed to handlers: a proxy of the function's own
     * com.amazonaws.services.lambda.runtime.Context interface (null when the
     * function does not bundle aws-lambda-java-core).
     */
    static final class ContextFactory {
        private final ClassLoader cl;
        private final Class<?> context;
        private final Object logger;
        private final String functionName = System.getenv("AWS_LAMBDA_FUNCTION_NAME");
        private final String version = System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
        private final String logGroup = System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
        private final String logStream = System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
        private final int memory;

        ContextFactory(ClassLoader cl) {
            this.cl = cl;
            this.context = Handlers.core(cl, "Context");
            int mem = 0;
            try {
                mem = Integer.parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
            } catch (RuntimeException ignored) {
                // left at 0
            }
            this.memory = mem;
            Class<?> loggerType = Handlers.core(cl, "LambdaLogger");
            this.logger = loggerType == null ? null : proxy(loggerType, (p, m, a) -> {
                switch (m.getName()) {
                    case "log":
                        if (a != null && a.length > 0) {
                            if (a[0] instanceof byte[]) {
                                System.out.write((byte[]) a[0], 0, ((byte[]) a[0]).length);
                            } else {
                                System.out.print(a[0]);
                            }
                            System.out.flush();
                        }
                        return null;
                    default:
                        return objectMethod(p, m.getName(), a, "LambdaLogger");
                }
            });
        }

        Object make(RuntimeApi.Response inv) {
            if (context == null) {
                return null;
            }
            String requestId = inv.header("Lambda-Runtime-Aws-Request-Id");
            String arn = inv.header("Lambda-Runtime-Invoked-Function-Arn");
            long deadline = parseLong(inv.header("Lambda-Runtime-Deadline-Ms"));
            Object identity = identity(inv.header("Lambda-Runtime-Cognito-Identity"));
            Object client = clientContext(inv.header("Lambda-Runtime-Client-Context"));
            return proxy(context, (p, m, a) -> {
                switch (m.getName()) {
                    case "getAwsRequestId": return requestId;
                    case "getLogGroupName": return logGroup;
                    case "getLogStreamName": return logStream;
                    case "getFunctionName": return functionName;
                    case "getFunctionVersion": return version;
                    case "getInvokedFunctionArn": return arn;
                    case "getIdentity": return identity;
                    case "getClientContext": return client;
                    case "getRemainingTimeInMillis": return (int) Math.max(0, deadline - System.currentTimeMillis());
                    case "getMemoryLimitInMB": return memory;
                    case "getLogger": return logger;
                    case "getTenantId": return inv.header("Lambda-Runtime-Aws-Tenant-Id");
                    default: return objectMethod(p, m.getName(), a, "LambdaContext");
                }
            });
        }

        private Object identity(String header) {
            Class<?> type = Handlers.core(cl, "CognitoIdentity");
            if (type == null) {
                return null;
            }
            Map<?, ?> m = header == null || header.isEmpty() ? Collections.emptyMap() : asMap(Json.parse(header));
            String id = str(m.get("cognitoIdentityId"));
            String pool = str(m.get("cognitoIdentityPoolId"));
            return proxy(type, (p, meth, a) -> {
                switch (meth.getName()) {
                    case "getIdentityId": return id == null ? "" : id;
                    case "getIdentityPoolId": return pool == null ? "" : pool;
                    default: return objectMethod(p, meth.getName(), a, "LambdaCognitoIdentity");
                }
            });
        }

        private Object clientContext(String header) {
            Class<?> type = Handlers.core(cl, "ClientContext");
            Class<?> clientType = Handlers.core(cl, "Client");
            if (type == null || header == null || header.isEmpty()) {
                return null;
            }
            Map<?, ?> m = asMap(Json.parse(header));
            Map<?, ?> c = asMap(m.get("client"));
            Object client = clientType == null ? null : proxy(clientType, (p, meth, a) -> {
                switch (meth.getName()) {
                    case "getInstallationId": return str(c.get("installation_id"));
                    case "getAppTitle": return str(c.get("app_title"));
                    case "getAppVersionName": return str(c.get("app_version_name"));
                    case "getAppVersionCode": return str(c.get("app_version_code"));
                    case "getAppPackageName": return str(c.get("app_package_name"));
                    default: return objectMethod(p, meth.getName(), a, "LambdaClientContextClient");
                }
            });
            Map<String, String> custom = strings(m.get("custom"));
            Map<String, String> env = strings(m.get("env"));
            return proxy(type, (p, meth, a) -> {
                switch (meth.getName()) {
                    case "getClient": return client;
                    case "getCustom": return custom;
                    case "getEnvironment": return env;
                    default: return objectMethod(p, meth.getName(), a, "LambdaClientContext");
                }
            });
        }

        private static Map<?, ?> asMap(Object o) {
            return o instanceof Map ? (Map<?, ?>) o : Collections.emptyMap();
        }

        private static String str(Object o) {
            return o == null ? null : o.toString();
        }

        private static Map<String, String> strings(Object o) {
            if (!(o instanceof Map)) {
                return null;
            }
            Map<String, String> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                out.put(String.valueOf(e.getKey()), e.getValue() == null ? null : e.getValue().toString());
            }
            return out;
        }

        private static long parseLong(String s) {
            try {
                return Long.parseLong(s);
            } catch (RuntimeException e) {
                return Long.MAX_VALUE;
            }
        }

        private Object proxy(Class<?> iface, InvocationHandler h) {
            return Proxy.newProxyInstance(cl, new Class<?>[] {iface}, h);
        }

        private static Object objectMethod(Object proxy, String name, Object[] args, String type) {
            switch (name) {
                case "toString": return type + "@" + Integer.toHexString(System.identityHashCode(proxy));
                case "hashCode": return System.identityHashCode(proxy);
                case "equals": return args != null && args.length == 1 && args[0] == proxy;
                default: return null;
            }
        }
    }
}
