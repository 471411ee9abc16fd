package nimbus.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * POJO (de)serialisation with the rules of AWS's Java runtime (its Jackson
 * configuration) for the common cases: strings, numbers and their wrappers,
 * booleans, enums, maps, collections, arrays, Optional, and beans with
 * public setters/getters or public fields. Unknown properties are ignored,
 * nulls are left out of output, a scalar is accepted where a collection is
 * expected and a one-element array where a scalar is.
 */
final class Pojo {
    private static final int MAX_DEPTH = 1000;

    private Pojo() {
    }

    // ---- JSON tree -> Java value ----

    static Object fromTree(Object v, Type t) throws Exception {
        return convert(v, t, 0);
    }

    private static Class<?> raw(Type t) {
        if (t instanceof Class) {
            return (Class<?>) t;
        }
        if (t instanceof ParameterizedType) {
            return raw(((ParameterizedType) t).getRawType());
        }
        if (t instanceof GenericArrayType) {
            return Array.newInstance(raw(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
        }
        if (t instanceof WildcardType) {
            Type[] up = ((WildcardType) t).getUpperBounds();
            return up.length > 0 ? raw(up[0]) : Object.class;
        }
        if (t instanceof TypeVariable) {
            Type[] b = ((TypeVariable<?>) t).getBounds();
            return b.length > 0 ? raw(b[0]) : Object.class;
        }
        return Object.class;
    }

    private static Type arg(Type t, int n) {
        if (t instanceof ParameterizedType) {
            Type[] a = ((ParameterizedType) t).getActualTypeArguments();
            if (n < a.length) {
                return a[n];
            }
        }
        return Object.class;
    }

    private static String kind(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Map) {
            return "Object value";
        }
        if (v instanceof List) {
            return "Array value";
        }
        if (v instanceof String) {
            return "String value";
        }
        if (v instanceof Boolean) {
            return "Boolean value";
        }
        return "Number value";
    }

    private static IllegalArgumentException cannot(Type t, Object v) {
        return new IllegalArgumentException("Cannot deserialize value of type `" + t.getTypeName() + "` from " + kind(v));
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object convert(Object v, Type t, int depth) throws Exception {
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException("Document nesting depth exceeds the maximum allowed");
        }
        Class<?> c = raw(t);
        if (c == Object.class) {
            return v;
        }
        if (c == Optional.class) {
            return v == null ? Optional.empty() : Optional.ofNullable(convert(v, arg(t, 0), depth + 1));
        }
        if (v == null) {
            return c.isPrimitive() ? primitiveZero(c) : null;
        }
        // UNWRAP_SINGLE_VALUE_ARRAYS
        if (v instanceof List && ((List<?>) v).size() == 1 && !c.isArray() && !Collection.class.isAssignableFrom(c)
                && c != Object.class) {
            return convert(((List<?>) v).get(0), t, depth + 1);
        }
        if (c == String.class || c == CharSequence.class) {
            if (v instanceof Map || v instanceof List) {
                throw cannot(t, v);
            }
            return v instanceof String ? v : Json.write(v);
        }
        if (c.isPrimitive() || Number.class.isAssignableFrom(c) || c == Boolean.class || c == Character.class) {
            return scalar(v, c, t);
        }
        if (c.isEnum()) {
            if (!(v instanceof String)) {
                if (v instanceof Integer) {
                    Object[] consts = c.getEnumConstants();
                    int k = (Integer) v;
                    if (k >= 0 && k < consts.length) {
                        return consts[k];
                    }
                    return null;
                }
                throw cannot(t, v);
            }
            for (Object e : c.getEnumConstants()) {
                if (((Enum<?>) e).name().equals(v)) {
                    return e;
                }
            }
            return null; // READ_UNKNOWN_ENUM_VALUES_AS_NULL
        }
        if (c == byte[].class && v instanceof String) {
            return Base64.getDecoder().decode((String) v);
        }
        if (c.isArray()) {
            List<?> l = v instanceof List ? (List<?>) v : List.of(v);
            Type et = t instanceof GenericArrayType ? ((GenericArrayType) t).getGenericComponentType() : c.getComponentType();
            Object a = Array.newInstance(c.getComponentType(), l.size());
            for (int k = 0; k < l.size(); k++) {
                Array.set(a, k, convert(l.get(k), et, depth + 1));
            }
            return a;
        }
        if (Collection.class.isAssignableFrom(c)) {
            if (v instanceof String && ((String) v).isEmpty()) {
                return null;
            }
            List<?> l = v instanceof List ? (List<?>) v : List.of(v);
            Collection out = newCollection(c);
            for (Object o : l) {
                out.add(convert(o, arg(t, 0), depth + 1));
            }
            return out;
        }
        if (Map.class.isAssignableFrom(c)) {
            if (!(v instanceof Map)) {
                if (v instanceof String && ((String) v).isEmpty()) {
                    return null;
                }
                throw cannot(t, v);
            }
            Map out = newMap(c);
            Type kt = arg(t, 0);
            for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                Object key = raw(kt) == Object.class || raw(kt) == String.class ? e.getKey() : convert(e.getKey(), kt, depth + 1);
                out.put(key, convert(e.getValue(), arg(t, 1), depth + 1));
            }
            return out;
        }
        return bean(v, c, t, depth);
    }

    private static Object primitiveZero(Class<?> c) {
        if (c == boolean.class) {
            return false;
        }
        if (c == char.class) {
            return '\0';
        }
        return scalar(0, c, c);
    }

    private static Object scalar(Object v, Class<?> c, Type t) {
        if (v instanceof Map || v instanceof List) {
            throw cannot(t, v);
        }
        if (c == boolean.class || c == Boolean.class) {
            if (v instanceof Boolean) {
                return v;
            }
            if (v instanceof String) {
                String s = ((String) v).trim();
                if (s.equals("true") || s.equals("True") || s.equals("TRUE")) {
                    return true;
                }
                if (s.equals("false") || s.equals("False") || s.equals("FALSE")) {
                    return false;
                }
                if (s.isEmpty()) {
                    return c.isPrimitive() ? false : null;
                }
            }
            if (v instanceof Integer) {
                return ((Integer) v) != 0;
            }
            throw cannot(t, v);
        }
        if (c == char.class || c == Character.class) {
            if (v instanceof String && ((String) v).length() == 1) {
                return ((String) v).charAt(0);
            }
            if (v instanceof Integer) {
                return (char) (int) (Integer) v;
            }
            throw cannot(t, v);
        }
        Number n;
        if (v instanceof Number) {
            n = (Number) v;
        } else if (v instanceof String) {
            String s = ((String) v).trim();
            if (s.isEmpty()) {
                return c.isPrimitive() ? primitiveZero(c) : null;
            }
            try {
                n = new BigDecimal(s);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("Cannot deserialize value of type `" + t.getTypeName()
                        + "` from String \"" + s + "\": not a valid representation");
            }
        } else if (v instanceof Boolean) {
            throw cannot(t, v);
        } else {
            throw cannot(t, v);
        }
        if (c == int.class || c == Integer.class) {
            return n.intValue();
        }
        if (c == long.class || c == Long.class) {
            return n.longValue();
        }
        if (c == double.class || c == Double.class) {
            return n.doubleValue();
        }
        if (c == float.class || c == Float.class) {
            return n.floatValue();
        }
        if (c == short.class || c == Short.class) {
            return n.shortValue();
        }
        if (c == byte.class || c == Byte.class) {
            return n.byteValue();
        }
        if (c == BigDecimal.class) {
            return n instanceof BigDecimal ? n : new BigDecimal(n.toString());
        }
        if (c == BigInteger.class) {
            return n instanceof BigInteger ? n : new BigDecimal(n.toString()).toBigInteger();
        }
        if (c == Number.class) {
            return n;
        }
        throw cannot(t, v);
    }

    @SuppressWarnings("rawtypes")
    private static Collection newCollection(Class<?> c) throws Exception {
        if (!c.isInterface() && !Modifier.isAbstract(c.getModifiers())) {
            return (Collection) c.getConstructor().newInstance();
        }
        if (SortedSet.class.isAssignableFrom(c)) {
            return new TreeSet<>();
        }
        if (Set.class.isAssignableFrom(c)) {
            return c == Set.class || c.isAssignableFrom(LinkedHashSet.class) ? new LinkedHashSet<>() : new HashSet<>();
        }
        return new ArrayList<>();
    }

    @SuppressWarnings("rawtypes")
    private static Map newMap(Class<?> c) throws Exception {
        if (!c.isInterface() && !Modifier.isAbstract(c.getModifiers())) {
            return (Map) c.getConstructor().newInstance();
        }
        if (SortedMap.class.isAssignableFrom(c)) {
            return new TreeMap<>();
        }
        if (c.getName().equals("java.util.concurrent.ConcurrentMap")) {
            return new ConcurrentHashMap<>();
        }
        return new LinkedHashMap<>();
    }

    /** Bean properties of a class: setters and public fields by JSON name. */
    private static final class BeanInfo {
        final Map<String, Method> setters = new LinkedHashMap<>();
        final Map<String, Field> fields = new LinkedHashMap<>();
        final List<String> order = new ArrayList<>();
        final Map<String, Method> getters = new LinkedHashMap<>();
        final Map<String, Field> readFields = new LinkedHashMap<>();
    }

    private static final Map<Class<?>, BeanInfo> BEANS = new ConcurrentHashMap<>();

    /** Jackson's USE_STD_BEAN_NAMING: getURL is "URL", getName is "name". */
    static String propertyName(String s) {
        if (s.isEmpty()) {
            return s;
        }
        if (s.length() > 1 && Character.isUpperCase(s.charAt(0)) && Character.isUpperCase(s.charAt(1))) {
            return s;
        }
        return Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }

    private static BeanInfo beanInfo(Class<?> c) {
        BeanInfo b = BEANS.get(c);
        if (b != null) {
            return b;
        }
        b = new BeanInfo();
        List<Class<?>> chain = new ArrayList<>();
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            chain.add(0, k);
        }
        for (Class<?> k : chain) {
            for (Field f : k.getDeclaredFields()) {
                int m = f.getModifiers();
                if (Modifier.isStatic(m) || Modifier.isTransient(m) || f.isSynthetic()) {
                    continue;
                }
                if (!b.order.contains(f.getName())) {
                    b.order.add(f.getName());
                }
                if (Modifier.isPublic(m) && Modifier.isPublic(k.getModifiers())) {
                    b.readFields.put(f.getName(), f);
                    if (!Modifier.isFinal(m)) {
                        b.fields.put(f.getName(), f);
                    }
                }
            }
        }
        for (Method m : c.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || m.isBridge() || m.isSynthetic()
                    || m.getDeclaringClass() == Object.class) {
                continue;
            }
            String n = m.getName();
            int params = m.getParameterCount();
            if (params == 1 && n.length() > 3 && n.startsWith("set")) {
                String p = propertyName(n.substring(3));
                Method old = b.setters.get(p);
                if (old == null || preferSetter(m, old)) {
                    b.setters.put(p, m);
                }
            } else if (params == 0 && m.getReturnType() != void.class) {
                String p = null;
                if (n.length() > 3 && n.startsWith("get")) {
                    p = propertyName(n.substring(3));
                } else if (n.length() > 2 && n.startsWith("is")
                        && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
                    p = propertyName(n.substring(2));
                }
                if (p != null && !b.getters.containsKey(p)) {
                    b.getters.put(p, m);
                    if (!b.order.contains(p)) {
                        b.order.add(p);
                    }
                }
            }
        }
        for (Method m : c.getMethods()) {
            m.setAccessible(true);
        }
        BEANS.put(c, b);
        return b;
    }

    /** Among overloaded setters, prefer one taking a String, then any non-Object type. */
    private static boolean preferSetter(Method m, Method old) {
        Class<?> a = m.getParameterTypes()[0];
        Class<?> o = old.getParameterTypes()[0];
        return o == Object.class && a != Object.class;
    }

    private static Object bean(Object v, Class<?> c, Type t, int depth) throws Exception {
        if (v instanceof String && ((String) v).isEmpty()) {
            return null; // ACCEPT_EMPTY_STRING_AS_NULL_OBJECT
        }
        if (v instanceof List && ((List<?>) v).isEmpty()) {
            return null; // ACCEPT_EMPTY_ARRAY_AS_NULL_OBJECT
        }
        if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
            throw new IllegalArgumentException("Cannot construct instance of `" + c.getName()
                    + "` (no Creators, like default constructor, exist): abstract types either need to be mapped to concrete types, have custom deserializer, or contain additional type information");
        }
        if (!(v instanceof Map)) {
            throw new IllegalArgumentException("Cannot construct instance of `" + c.getName()
                    + "` (although at least one Creator exists): no " + kind(v).replace(" value", "")
                    + "-argument constructor/factory method to deserialize from " + kind(v));
        }
        Constructor<?> ctor;
        try {
            ctor = c.getDeclaredConstructor();
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException("Cannot construct instance of `" + c.getName()
                    + "` (no Creators, like default constructor, exist): cannot deserialize from Object value (no delegate- or property-based Creator)");
        }
        ctor.setAccessible(true);
        Object o;
        try {
            o = ctor.newInstance();
        } catch (InvocationTargetException e) {
            throw Handlers.rethrow(e.getCause());
        }
        BeanInfo b = beanInfo(c);
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) v;
        for (Map.Entry<String, Object> e : m.entrySet()) {
            Method s = b.setters.get(e.getKey());
            if (s != null) {
                Object val = convert(e.getValue(), s.getGenericParameterTypes()[0], depth + 1);
                try {
                    s.invoke(o, val);
                } catch (InvocationTargetException ex) {
                    throw Handlers.rethrow(ex.getCause());
                }
                continue;
            }
            Field f = b.fields.get(e.getKey());
            if (f != null) {
                f.set(o, convert(e.getValue(), f.getGenericType(), depth + 1));
            }
        }
        return o;
    }

    // ---- Java value -> JSON tree ----

    static Object toTree(Object v) throws Exception {
        return tree(v, 0);
    }

    private static Object tree(Object v, int depth) throws Exception {
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException("Direct self-reference leading to cycle");
        }
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Number) {
            return v;
        }
        if (v instanceof Character || v instanceof CharSequence) {
            return v.toString();
        }
        if (v instanceof Enum) {
            return ((Enum<?>) v).name();
        }
        if (v instanceof Optional) {
            Optional<?> o = (Optional<?>) v;
            return o.isPresent() ? tree(o.get(), depth + 1) : null;
        }
        if (v instanceof byte[]) {
            return Base64.getEncoder().encodeToString((byte[]) v);
        }
        if (v instanceof char[]) {
            return new String((char[]) v);
        }
        if (v.getClass().isArray()) {
            List<Object> l = new ArrayList<>();
            for (int k = 0; k < Array.getLength(v); k++) {
                l.add(tree(Array.get(v, k), depth + 1));
            }
            return l;
        }
        if (v instanceof Iterable) {
            List<Object> l = new ArrayList<>();
            for (Object o : (Iterable<?>) v) {
                l.add(tree(o, depth + 1));
            }
            return l;
        }
        if (v instanceof Map) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                m.put(String.valueOf(e.getKey()), tree(e.getValue(), depth + 1));
            }
            return m;
        }
        String pkg = v.getClass().getPackageName();
        if (pkg.startsWith("java.") || pkg.startsWith("javax.")) {
            return v.toString();
        }
        BeanInfo b = beanInfo(v.getClass());
        Map<String, Object> m = new LinkedHashMap<>();
        for (String p : b.order) {
            Object val;
            Method g = b.getters.get(p);
            if (g != null) {
                try {
                    val = g.invoke(v);
                } catch (InvocationTargetException e) {
                    throw Handlers.rethrow(e.getCause());
                }
            } else if (b.readFields.containsKey(p)) {
                val = b.readFields.get(p).get(v);
            } else {
                continue;
            }
            if (val == null) {
                continue; // Include.NON_NULL
            }
            if (val == v) {
                throw new IllegalArgumentException("Direct self-reference leading to cycle (through reference chain: "
                        + v.getClass().getName() + "[\"" + p + "\"])");
            }
            m.put(p, tree(val, depth + 1));
        }
        return m;
    }
}
