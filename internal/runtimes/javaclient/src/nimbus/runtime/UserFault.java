package nimbus.runtime;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * A failure of the function (not of the runtime), reported as AWS's Java
 * runtime reports it: message, exception class name, stack trace, and
 * whether it ends the environment.
 */
final class UserFault extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private static final String PACKAGE = UserFault.class.getPackageName() + ".";

    final String msg;
    final String exception;
    final String trace;
    final boolean fatal;

    UserFault(String msg, String exception, String trace, boolean fatal) {
        super(msg, null, false, false);
        this.msg = msg;
        this.exception = exception;
        this.trace = trace;
        this.fatal = fatal;
    }

    static UserFault of(String msg) {
        return new UserFault(msg, null, null, false);
    }

    static UserFault of(Throwable t) {
        return of(t, false);
    }

    static UserFault of(Throwable t, boolean fatal) {
        if (t instanceof UserFault) {
            return (UserFault) t;
        }
        String msg = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
        return new UserFault(msg, t.getClass().getName(), trace(t), fatal);
    }

    static UserFault initError(Throwable e, String className) {
        return new UserFault("Error loading class " + className + (e.getMessage() == null ? "" : ": " + e.getMessage()),
                e.getClass().getName(), trace(e), true);
    }

    static UserFault classNotFound(Throwable e, String className) {
        return new UserFault("Class not found: " + className, e.getClass().getName(), trace(e), false);
    }

    /** The text AWS's runtime logs for a fault. */
    String reportable() {
        if (exception != null || trace != null) {
            return String.format("%s: %s%n%s%n", msg, exception == null ? "" : exception, trace == null ? "" : trace);
        }
        return String.format("%s%n", msg);
    }

    static String trace(Throwable t) {
        filter(t);
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return sw.toString();
    }

    /** Removes the runtime's own frames (and the reflection that called the handler) from t and its causes. */
    static <T extends Throwable> T filter(T t) {
        filter(t, new HashSet<>());
        return t;
    }

    private static void filter(Throwable t, Set<Throwable> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        StackTraceElement[] trace = t.getStackTrace();
        for (int i = 0; i < trace.length; i++) {
            if (trace[i].getClassName().startsWith(PACKAGE)) {
                int end = i;
                while (end > 0 && Handlers.dropReflection && isReflection(trace[end - 1])) {
                    end--;
                }
                t.setStackTrace(Arrays.copyOf(trace, end));
                break;
            }
        }
        filter(t.getCause(), seen);
        for (Throwable s : t.getSuppressed()) {
            filter(s, seen);
        }
    }

    private static boolean isReflection(StackTraceElement e) {
        String c = e.getClassName();
        return c.startsWith("jdk.internal.reflect.") || c.equals("java.lang.reflect.Method");
    }
}
