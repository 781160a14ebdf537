import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { findAggregate, rowToEntity, TABLES, type Order, type OrderItem, type Payment } from '../../data/tables';
import { type Card, InsufficientStockError, InvalidStateError, NotFoundError, PaymentDeclinedError, ValidationError, withTransaction } from '../../../service-kit';
import { nextVersion, recordChange, type WriteContext } from '../../data/changes';
import { adjustStockIn, lockProduct } from '../catalog/service';
import { authoriseIn, captureIn, refundIn } from '../payments/service';

export interface PlaceOrder {
  items: { productId: string; quantity: number }[];
  card: Card;
}

const selectByUser = `${TABLES.order.sql.select} where user_id = $1 order by created_at desc, id limit $2`;

/** Merges repeated lines and sorts by product id, so concurrent orders lock products in one order (no deadlock). */
function normaliseLines(items: PlaceOrder['items']): { productId: string; quantity: number }[] {
  const quantities = new Map<string, number>();
  for (const item of items) quantities.set(item.productId, (quantities.get(item.productId) ?? 0) + item.quantity);
  return [...quantities].sort(([a], [b]) => a.localeCompare(b)).map(([productId, quantity]) => ({ productId, quantity }));
}

export class OrderService {
  constructor(private readonly pool: Pool) {}

  /**
   * Checks and reserves stock, authorises and captures the payment, and records the order, in one transaction.
   * A declined card commits only the declined payment (so it is on record) and then answers 402.
   */
  async place(userId: string, input: PlaceOrder, context: WriteContext): Promise<Order> {
    const result = await withTransaction(this.pool, async (client): Promise<{ order: Order } | { declined: Payment }> => {
      if (!(await findAggregate(client, 'user', userId))) throw new NotFoundError('user', userId);
      const lines = normaliseLines(input.items);
      const products = [];
      for (const line of lines) {
        const product = await lockProduct(client, line.productId);
        products.push({ product, line });
      }
      const currency = products[0]!.product.currency;
      const foreign = products.findIndex(({ product }) => product.currency !== currency);
      if (foreign >= 0) throw new ValidationError([{ field: 'items', message: `all products of an order must be priced in one currency (${currency}), ${products[foreign]!.product.id} is not` }]);
      const items: OrderItem[] = products.map(({ product, line }) => ({ productId: product.id, quantity: line.quantity, priceCents: product.priceCents }));
      const totalCents = items.reduce((sum, item) => sum + item.priceCents * item.quantity, 0);
      // Stock is checked before the card is charged; the reservation itself follows approval.
      for (const { product, line } of products) {
        if (product.stock < line.quantity) throw new InsufficientStockError(product.id, product.stock, line.quantity);
      }
      const orderId = randomUUID();
      const authorised = await authoriseIn(client, { userId, orderId, amountCents: totalCents, currency, card: input.card }, context);
      if (authorised.status === 'declined') return { declined: authorised };
      for (const { product, line } of products) await adjustStockIn(client, product, -line.quantity, context);
      const payment = await captureIn(client, authorised, context);
      const now = new Date().toISOString();
      const order: Order = {
        id: orderId,
        userId,
        status: 'placed',
        items,
        totalCents,
        currency,
        paymentId: payment.id,
        version: 1,
        createdAt: now,
        updatedAt: now,
      };
      await recordChange(client, 'order', order, 'OrderPlaced', context);
      return { order };
    });
    if ('declined' in result) throw new PaymentDeclinedError(result.declined.id, result.declined.declineReason ?? 'declined');
    return result.order;
  }

  async list(userId: string, limit: number): Promise<Order[]> {
    const result = await this.pool.query(selectByUser, [userId, limit]);
    return result.rows.map((row: Record<string, unknown>) => rowToEntity(TABLES.order, row));
  }

  async get(userId: string, id: string): Promise<Order> {
    const stored = await findAggregate(this.pool, 'order', id);
    if (!stored || stored.entity.userId !== userId) throw new NotFoundError('order', id);
    return stored.entity;
  }

  /** Releases the reserved stock, refunds the payment and marks the order cancelled, in one transaction. */
  cancel(userId: string, id: string, context: WriteContext): Promise<Order> {
    return withTransaction(this.pool, async (client) => {
      const stored = await findAggregate(client, 'order', id, { forUpdate: true });
      if (!stored || stored.entity.userId !== userId) throw new NotFoundError('order', id);
      const order = stored.entity;
      if (order.status !== 'placed') throw new InvalidStateError(`order ${id} is ${order.status}`);
      const lines = [...order.items].sort((a, b) => a.productId.localeCompare(b.productId));
      for (const item of lines) await adjustStockIn(client, await lockProduct(client, item.productId), item.quantity, context);
      const payment = await findAggregate(client, 'payment', order.paymentId, { forUpdate: true });
      if (!payment) throw new NotFoundError('payment', order.paymentId);
      await refundIn(client, payment.entity, context);
      const cancelled = nextVersion(order, { status: 'cancelled' });
      await recordChange(client, 'order', cancelled, 'OrderCancelled', context);
      return cancelled;
    });
  }
}
