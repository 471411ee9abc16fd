package nimbus.runtime;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A minimal HTTP/1.1 client of the Lambda Runtime API over one kept-alive
 * socket. It loads far fewer classes than HttpURLConnection or HttpClient,
 * which is most of a small function's cold start.
 */
final class RuntimeApi {
    private static final String PREFIX = "/2018-06-01/runtime/";

    private final String host;
    private final int port;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApi(String address) {
        int colon = address.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("AWS_LAMBDA_RUNTIME_API is not host:port: " + address);
        }
        this.host = address.substring(0, colon);
        this.port = Integer.parseInt(address.substring(colon + 1));
    }

    /** One response of the Runtime API. */
    static final class Response {
        int status;
        final Map<String, String> headers = new HashMap<>();
        byte[] body;

        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    Response next() throws IOException {
        return request("GET", PREFIX + "invocation/next", null, null);
    }

    void respond(String requestId, byte[] payload) throws IOException {
        request("POST", PREFIX + "invocation/" + requestId + "/response", null, payload);
    }

    void invocationError(String requestId, String errorType, byte[] body) throws IOException {
        request("POST", PREFIX + "invocation/" + requestId + "/error", errorType, body);
    }

    void initError(String errorType, byte[] body) throws IOException {
        request("POST", PREFIX + "init/error", errorType, body);
    }

    private Response request(String method, String path, String errorType, byte[] body) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                return send(method, path, errorType, body);
            } catch (IOException e) {
                close();
                if (attempt > 0) {
                    throw e;
                }
                // The server may have closed an idle kept-alive connection: retry once on a new one.
            }
        }
    }

    private Response send(String method, String path, String errorType, byte[] body) throws IOException {
        if (socket == null) {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(host, port));
            in = new BufferedInputStream(socket.getInputStream(), 65536);
            out = socket.getOutputStream();
        }
        StringBuilder head = new StringBuilder(256);
        head.append(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: ").append(host).append(':').append(port)
                .append("\r\nUser-Agent: nimbus-java-runtime\r\n");
        if (errorType != null) {
            head.append("Lambda-Runtime-Function-Error-Type: ").append(errorType).append("\r\n");
            head.append("Content-Type: application/json\r\n");
        }
        if (body != null) {
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        byte[] h = head.toString().getBytes(StandardCharsets.ISO_8859_1);
        if (body != null && body.length + h.length <= 65536) {
            byte[] all = new byte[h.length + body.length];
            System.arraycopy(h, 0, all, 0, h.length);
            System.arraycopy(body, 0, all, h.length, body.length);
            out.write(all);
        } else {
            out.write(h);
            if (body != null) {
                out.write(body);
            }
        }
        out.flush();
        return readResponse();
    }

    private Response readResponse() throws IOException {
        Response r = new Response();
        String status = readLine();
        if (status == null || !status.startsWith("HTTP/1.")) {
            throw new IOException("bad response from the Runtime API: " + status);
        }
        r.status = Integer.parseInt(status.substring(9, 12));
        String line;
        while ((line = readLine()) != null && !line.isEmpty()) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                r.headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
            }
        }
        String te = r.header("transfer-encoding");
        String cl = r.header("content-length");
        if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            while (true) {
                String size = readLine();
                if (size == null) {
                    throw new IOException("Runtime API response ended inside a chunk");
                }
                int semi = size.indexOf(';');
                int n = Integer.parseInt((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
                if (n == 0) {
                    while ((line = readLine()) != null && !line.isEmpty()) {
                        // trailers
                    }
                    break;
                }
                buf.write(readExactly(n));
                readLine();
            }
            r.body = buf.toByteArray();
        } else if (cl != null) {
            r.body = readExactly(Integer.parseInt(cl));
        } else {
            r.body = new byte[0];
        }
        String conn = r.header("connection");
        if (conn != null && conn.equalsIgnoreCase("close")) {
            close();
        }
        return r;
    }

    private byte[] readExactly(int n) throws IOException {
        byte[] b = new byte[n];
        int off = 0;
        while (off < n) {
            int k = in.read(b, off, n - off);
            if (k < 0) {
                throw new IOException("Runtime API response ended early");
            }
            off += k;
        }
        return b;
    }

    private String readLine() throws IOException {
        StringBuilder sb = new StringBuilder(64);
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                int len = sb.length();
                if (len > 0 && sb.charAt(len - 1) == '\r') {
                    sb.setLength(len - 1);
                }
                return sb.toString();
            }
            sb.append((char) c);
        }
        return sb.length() == 0 ? null : sb.toString();
    }

    private void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // nothing to do
            }
        }
        socket = null;
        in = null;
        out = null;
    }
}
