package example;

import java.util.List;

public class Receipt {
    private String orderId;
    private double total;
    private String missing;
    private List<String> skus;
    private String requestId;
    public Integer remaining;

    public String getOrderId() { return orderId; }
    public void setOrderId(String orderId) { this.orderId = orderId; }
    public double getTotal() { return total; }
    public void setTotal(double total) { this.total = total; }
    public String getMissing() { return missing; }
    public List<String> getSkus() { return skus; }
    public void setSkus(List<String> skus) { this.skus = skus; }
    public String getRequestId() { return requestId; }
    public void setRequestId(String requestId) { this.requestId = requestId; }
}
