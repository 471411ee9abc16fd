package example;

import java.util.List;
import java.util.Map;

/** A POJO with getters and setters, a public field, a list and a map. */
public class Order {
    private String id;
    private int quantity;
    private Double price;
    private boolean gift;
    private List<Item> items;
    private Map<String, Long> counts;
    public String note;
    private Kind kind;

    public enum Kind { RETAIL, WHOLESALE }

    public static class Item {
        private String sku;
        public String getSku() { return sku; }
        public void setSku(String sku) { this.sku = sku; }
    }

    public String getId() { return id; }
    public void setId(String id) { this.id = id; }
    public int getQuantity() { return quantity; }
    public void setQuantity(int quantity) { this.quantity = quantity; }
    public Double getPrice() { return price; }
    public void setPrice(Double price) { this.price = price; }
    public boolean isGift() { return gift; }
    public void setGift(boolean gift) { this.gift = gift; }
    public List<Item> getItems() { return items; }
    public void setItems(List<Item> items) { this.items = items; }
    public Map<String, Long> getCounts() { return counts; }
    public void setCounts(Map<String, Long> counts) { this.counts = counts; }
    public Kind getKind() { return kind; }
    public void setKind(Kind kind) { this.kind = kind; }
}
