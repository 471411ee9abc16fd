package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.ArrayList;

/** A POJO handler: Order in, Receipt out. */
public class OrderHandler implements RequestHandler<Order, Receipt> {
    @Override
    public Receipt handleRequest(Order order, Context context) {
        Receipt r = new Receipt();
        r.setOrderId(order.getId() + (order.isGift() ? "-gift" : "") + "-" + order.getKind() + "-" + order.note);
        r.setTotal(order.getQuantity() * order.getPrice() + order.getCounts().get("extra"));
        r.setSkus(new ArrayList<>());
        for (Order.Item i : order.getItems()) {
            r.getSkus().add(i.getSku());
        }
        r.setRequestId(context.getAwsRequestId());
        r.remaining = context.getRemainingTimeInMillis() > 0 ? 1 : 0;
        return r;
    }
}
