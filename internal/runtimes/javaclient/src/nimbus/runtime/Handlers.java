package nimbus.runtime;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * Handler resolution as AWS's Java runtime does it (EventHandlerLoader):
 * "package.Class" names a RequestStreamHandler or a RequestHandler with
 * concrete type parameters; "package.Class::method" names a public method
 * whose best overload (longest signature, a trailing Context counting one
 * more) takes a POJO, an InputStream/OutputStream pair and/or a Context.
 * The interfaces are the user's own copy of aws-lambda-java-core, found by
 * name in the function's class loader.
 */
final class Handlers {
    static final String CORE = "com.amazonaws.services.lambda.runtime.";
    static final byte[] JSON_NULL = "null".getBytes(StandardCharsets.US_ASCII);

    /** Set when the handler is called through its interface, whose reflective frames AWS's traces do not show. */
    static volatile boolean dropReflection;

    private Handlers() {
    }

    /** One loaded handler. */
    interface Handler {
        byte[] call(byte[] payload, Object context) throws Throwable;
    }

    /** A handler that fails every invocation with the fault found while loading it. */
    static final class Faulty implements Handler {
        final UserFault fault;

        Faulty(UserFault fault) {
            this.fault = fault;
        }

        @Override
        public byte[] call(byte[] payload, Object context) {
            throw fault;
        }
    }

    static RuntimeException rethrow(Throwable t) {
        Handlers.<RuntimeException>sneaky(t);
        return null;
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> void sneaky(Throwable t) throws T {
        throw (T) t;
    }

    static Class<?> core(ClassLoader cl, String name) {
        try {
            return Class.forName(CORE + name, false, cl);
        } catch (ClassNotFoundException | LinkageError e) {
            return null;
        }
    }

    static String className(String handler) {
        int colon = handler.lastIndexOf("::");
        return colon < 0 ? handler : handler.substring(0, colon);
    }

    /** Loads handler; a fatal fault is thrown (an init error), others come back as a Faulty handler. */
    static Handler load(String handler, ClassLoader cl) {
        int colon = handler.lastIndexOf("::");
        String className = colon < 0 ? handler : handler.substring(0, colon);
        String method = colon < 0 ? null : handler.substring(colon + 2);
        if (className.isEmpty() || (method != null && method.isEmpty())) {
            return new Faulty(UserFault.of("Invalid handler: `" + handler + "'"));
        }
        Class<?> clazz;
        try {
            clazz = Class.forName(className, true, cl);
        } catch (ClassNotFoundException e) {
            return new Faulty(UserFault.classNotFound(e, className));
        } catch (NoClassDefFoundError e) {
            return new Faulty(UserFault.initError(e, className));
        } catch (Throwable t) {
            throw UserFault.initError(t, className);
        }
        Handler h = method == null ? loadClassHandler(clazz, cl) : loadMethodHandler(clazz, method, cl);
        if (h instanceof Faulty && ((Faulty) h).fault.fatal) {
            throw ((Faulty) h).fault;
        }
        return h;
    }

    private static Object newInstance(Class<?> clazz) throws Exception {
        Constructor<?> ctor;
        try {
            ctor = clazz.getConstructor();
        } catch (NoSuchMethodException e) {
            if (clazz.getEnclosingClass() != null && !Modifier.isStatic(clazz.getModifiers())) {
                throw new Exception("Class " + clazz.getName() + " cannot be instantiated because it is a non-static inner class");
            }
            throw new Exception("Class " + clazz.getName() + " has no public zero-argument constructor", e);
        }
        try {
            return ctor.newInstance();
        } catch (InvocationTargetException e) {
            throw UserFault.of(e.getCause() == null ? e : e.getCause(), true);
        }
    }

    private static Handler loadClassHandler(Class<?> clazz, ClassLoader cl) {
        Class<?> stream = core(cl, "RequestStreamHandler");
        Class<?> request = core(cl, "RequestHandler");
        Class<?> context = core(cl, "Context");
        try {
            if (stream != null && stream.isAssignableFrom(clazz)) {
                dropReflection = true;
                Object instance = newInstance(clazz);
                Method m = stream.getMethod("handleRequest", InputStream.class, OutputStream.class, context);
                return (payload, ctx) -> {
                    ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
                    invoke(m, instance, new ByteArrayInputStream(payload), out, ctx);
                    return out.toByteArray();
                };
            }
            if (request != null && request.isAssignableFrom(clazz)) {
                dropReflection = true;
                Type[] p = interfaceParameters(clazz, request);
                if (p == null) {
                    return new Faulty(UserFault.of("Class " + clazz.getName() + " does not implement RequestHandler with concrete type parameters"));
                }
                if (p.length != 2) {
                    return new Faulty(UserFault.of("Invalid class signature for RequestHandler. Expected two generic types, got " + p.length));
                }
                for (Type t : p) {
                    if (t instanceof TypeVariable) {
                        boolean bound = false;
                        for (Type b : ((TypeVariable<?>) t).getBounds()) {
                            if (!Object.class.equals(b)) {
                                bound = true;
                            }
                        }
                        if (!bound) {
                            return new Faulty(UserFault.of("Class " + clazz.getName()
                                    + " does not implement RequestHandler with concrete type parameters: parameter " + t + " has no upper bound."));
                        }
                    }
                }
                Object instance = newInstance(clazz);
                Method m = request.getMethod("handleRequest", Object.class, context);
                return pojo(m, instance, p[0], p[1], true);
            }
        } catch (UserFault f) {
            return new Faulty(f);
        } catch (Throwable t) {
            return new Faulty(UserFault.of(t));
        }
        return new Faulty(UserFault.of("Class does not implement an appropriate handler interface: " + clazz.getName()));
    }

    private static boolean isVoid(Type t) {
        return t == void.class || t == Void.class;
    }

    /** A handler taking a POJO (when inType is not null) and/or a Context, answering a POJO. */
    private static Handler pojo(Method m, Object instance, Type inType, Type outType, boolean withContext) {
        return (payload, ctx) -> {
            Object input = null;
            if (inType != null) {
                try {
                    input = Pojo.fromTree(Json.parse(payload), inType);
                } catch (Throwable t) {
                    throw new RuntimeException("An error occurred during JSON parsing", UserFault.filter(t));
                }
            }
            Object[] args = new Object[(inType != null ? 1 : 0) + (withContext ? 1 : 0)];
            int k = 0;
            if (inType != null) {
                args[k++] = input;
            }
            if (withContext) {
                args[k] = ctx;
            }
            Object out = invoke(m, instance, args);
            if (isVoid(outType)) {
                return JSON_NULL;
            }
            try {
                return Json.write(Pojo.toTree(out)).getBytes(StandardCharsets.UTF_8);
            } catch (Throwable t) {
                throw new RuntimeException("An error occurred during JSON serialization of response", t);
            }
        };
    }

    private static Object invoke(Method m, Object instance, Object... args) throws Throwable {
        try {
            return m.invoke(instance, args);
        } catch (InvocationTargetException e) {
            throw UserFault.filter(e.getCause() != null ? e.getCause() : e);
        }
    }

    private static boolean isContext(Type t, Class<?> context) {
        return context != null && context.equals(t);
    }

    private static Handler loadMethodHandler(Class<?> clazz, String name, ClassLoader cl) {
        Class<?> context = core(cl, "Context");
        Method[] methods;
        try {
            methods = clazz.getMethods();
        } catch (NoClassDefFoundError e) {
            return new Faulty(new UserFault("Error loading method " + name + " on class " + clazz.getName(),
                    e.getClass().getName(), UserFault.trace(e), false));
        }
        Method[] named = Arrays.stream(methods).filter(m -> m.getName().equals(name)).toArray(Method[]::new);
        Comparator<Method> priority = (l, r) -> {
            if (!l.isBridge() && r.isBridge()) {
                return -1;
            }
            if (!r.isBridge() && l.isBridge()) {
                return 1;
            }
            return -Integer.compare(weight(l, context), weight(r, context));
        };
        Arrays.sort(named, priority);
        for (Method m : named) {
            try {
                Handler h = fromOverload(clazz, m, context);
                if (h != null) {
                    return h;
                }
            } catch (UserFault f) {
                return new Faulty(f);
            } catch (Throwable t) {
                return new Faulty(UserFault.of(t));
            }
        }
        return new Faulty(UserFault.of("No public method named " + name + " with appropriate method signature found on class " + clazz.getName()));
    }

    private static int weight(Method m, Class<?> context) {
        Class<?>[] p = m.getParameterTypes();
        return p.length + (p.length > 0 && isContext(p[p.length - 1], context) ? 1 : 0);
    }

    private static Handler fromOverload(Class<?> clazz, Method m, Class<?> context) throws Exception {
        Type r = m.getGenericReturnType();
        Type[] p = m.getGenericParameterTypes();
        switch (p.length) {
            case 0:
                return pojo(m, instanceFor(clazz, m), null, r, false);
            case 1:
                if (InputStream.class.equals(p[0])) {
                    return stream(m, instanceFor(clazz, m), true, false, false);
                }
                if (OutputStream.class.equals(p[0])) {
                    return stream(m, instanceFor(clazz, m), false, true, false);
                }
                if (isContext(p[0], context)) {
                    return pojo(m, instanceFor(clazz, m), null, r, true);
                }
                return pojo(m, instanceFor(clazz, m), p[0], r, false);
            case 2:
                if (OutputStream.class.equals(p[0])) {
                    if (isContext(p[1], context)) {
                        return stream(m, instanceFor(clazz, m), false, true, true);
                    }
                    System.err.println("Ignoring two-argument overload because first argument type is OutputStream and second argument type is not Context");
                    return null;
                }
                if (isContext(p[0], context)) {
                    System.err.println("Ignoring two-argument overload because first argument type is Context");
                    return null;
                }
                if (InputStream.class.equals(p[0])) {
                    if (OutputStream.class.equals(p[1])) {
                        return stream(m, instanceFor(clazz, m), true, true, false);
                    }
                    if (isContext(p[1], context)) {
                        return stream(m, instanceFor(clazz, m), true, false, true);
                    }
                    System.err.println("Ignoring two-argument overload because second parameter type, " + m.getParameterTypes()[1].getName() + ", is not OutputStream.");
                    return null;
                }
                if (isContext(p[1], context)) {
                    return pojo(m, instanceFor(clazz, m), p[0], r, true);
                }
                System.err.println("Ignoring two-argument overload because second parameter type is not Context");
                return null;
            case 3:
                if (InputStream.class.equals(p[0]) && OutputStream.class.equals(p[1]) && isContext(p[2], context)) {
                    return stream(m, instanceFor(clazz, m), true, true, true);
                }
                System.err.println("Ignoring three-argument overload because argument signature is not (InputStream, OutputStream, Context");
                return null;
            default:
                System.err.println("Ignoring an overload of method " + m.getName() + " because it has too many parameters: Expected at most 3, got " + p.length);
                return null;
        }
    }

    private static Object instanceFor(Class<?> clazz, Method m) throws Exception {
        return Modifier.isStatic(m.getModifiers()) ? null : newInstance(clazz);
    }

    private static Handler stream(Method m, Object instance, boolean in, boolean out, boolean ctx) {
        return (payload, context) -> {
            ByteArrayOutputStream o = new ByteArrayOutputStream(1024);
            Object[] args = new Object[(in ? 1 : 0) + (out ? 1 : 0) + (ctx ? 1 : 0)];
            int k = 0;
            if (in) {
                args[k++] = new ByteArrayInputStream(payload);
            }
            if (out) {
                args[k++] = o;
            }
            if (ctx) {
                args[k] = context;
            }
            invoke(m, instance, args);
            return o.toByteArray();
        };
    }

    /** The actual type arguments with which clazz implements iface (breadth first, type variables resolved), or null. */
    static Type[] interfaceParameters(Class<?> clazz, Class<?> iface) {
        Deque<Object[]> queue = new ArrayDeque<>();
        queue.add(new Object[] {clazz, new HashMap<TypeVariable<?>, Type>()});
        while (!queue.isEmpty()) {
            Object[] cur = queue.poll();
            Type type = (Type) cur[0];
            @SuppressWarnings("unchecked")
            Map<TypeVariable<?>, Type> env = (Map<TypeVariable<?>, Type>) cur[1];
            Class<?> c;
            Map<TypeVariable<?>, Type> here = new HashMap<>();
            if (type instanceof ParameterizedType) {
                ParameterizedType pt = (ParameterizedType) type;
                c = (Class<?>) pt.getRawType();
                TypeVariable<?>[] vars = c.getTypeParameters();
                Type[] actual = pt.getActualTypeArguments();
                for (int i = 0; i < vars.length && i < actual.length; i++) {
                    here.put(vars[i], resolve(actual[i], env));
                }
                if (c.equals(iface)) {
                    Type[] out = new Type[vars.length];
                    for (int i = 0; i < vars.length; i++) {
                        out[i] = here.get(vars[i]);
                    }
                    return out;
                }
            } else {
                c = (Class<?>) type;
                if (c.equals(iface) && c != clazz) {
                    return null; // implemented raw
                }
            }
            for (Type t : c.getGenericInterfaces()) {
                queue.add(new Object[] {t, here});
            }
            if (c.getGenericSuperclass() != null) {
                queue.add(new Object[] {c.getGenericSuperclass(), here});
            }
        }
        return null;
    }

    private static Type resolve(Type t, Map<TypeVariable<?>, Type> env) {
        if (t instanceof TypeVariable && env.containsKey(t)) {
            return env.get(t);
        }
        return t;
    }
}
