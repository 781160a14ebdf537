import type { ClientBase, Pool } from 'pg';
import { InvalidStateError, NotFoundError, recordEvent, withTransaction, type WriteContext } from '../../service-kit';

export type OrderState = 'CONFIRMED' | 'CANCELLED';

export interface OrderLine {
  productId: string;
  quantity: number;
  priceCents: number;
}

/** An order as this service models it and as its events carry it. */
export interface StoredOrder {
  id: string;
  customerId: string;
  state: OrderState;
  lines: OrderLine[];
  totalCents: number;
  currency: string;
  paymentId: string;
  version: number;
  placedAt: string;
  updatedAt: string;
}

/** The shop's public order, the same contract the monolith answers with. */
export interface PublicOrder {
  id: string;
  userId: string;
  status: 'placed' | 'cancelled';
  items: OrderLine[];
  totalCents: number;
  currency: string;
  paymentId: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

const STATUS_OF: Record<OrderState, PublicOrder['status']> = { CONFIRMED: 'placed', CANCELLED: 'cancelled' };

export function toPublicOrder(order: StoredOrder): PublicOrder {
  return {
    id: order.id,
    userId: order.customerId,
    status: STATUS_OF[order.state],
    items: order.lines,
    totalCents: order.totalCents,
    currency: order.currency,
    paymentId: order.paymentId,
    version: order.version,
    createdAt: order.placedAt,
    updatedAt: order.updatedAt,
  };
}

const COLUMNS = 'id, customer_id, state, total_cents, currency, payment_id, version, placed_at, updated_at';

function fromRow(row: Record<string, unknown>, lines: OrderLine[]): StoredOrder {
  return {
    id: String(row.id),
    customerId: String(row.customer_id),
    state: row.state as OrderState,
    lines,
    totalCents: Number(row.total_cents),
    currency: String(row.currency),
    paymentId: String(row.payment_id),
    version: Number(row.version),
    placedAt: (row.placed_at as Date).toISOString(),
    updatedAt: (row.updated_at as Date).toISOString(),
  };
}

/** The orders table and its lines: read, lock, insert and change state, each change with its event. */
export class OrderStore {
  constructor(private readonly pool: Pool) {}

  private async withLines(client: ClientBase | Pool, rows: Record<string, unknown>[]): Promise<StoredOrder[]> {
    if (rows.length === 0) return [];
    const { rows: lineRows } = await client.query(
      'select order_id, product_id, quantity, unit_price_cents from order_lines where order_id = any($1::uuid[]) order by order_id, line_no',
      [rows.map((row) => row.id)],
    );
    const lines = new Map<string, OrderLine[]>();
    for (const line of lineRows as Record<string, unknown>[]) {
      const list = lines.get(String(line.order_id)) ?? [];
      list.push({ productId: String(line.product_id), quantity: Number(line.quantity), priceCents: Number(line.unit_price_cents) });
      lines.set(String(line.order_id), list);
    }
    return rows.map((row) => fromRow(row, lines.get(String(row.id)) ?? []));
  }

  async find(customerId: string, id: string, client: ClientBase | Pool = this.pool, forUpdate = false): Promise<StoredOrder> {
    const { rows } = await client.query(`select ${COLUMNS} from orders where id = $1${forUpdate ? ' for update' : ''}`, [id]);
    if (!rows[0] || rows[0].customer_id !== customerId) throw new NotFoundError('order', id);
    return (await this.withLines(client, rows))[0]!;
  }

  async listOf(customerId: string, limit: number): Promise<StoredOrder[]> {
    const { rows } = await this.pool.query(`select ${COLUMNS} from orders where customer_id = $1 order by placed_at desc, id limit $2`, [customerId, limit]);
    return this.withLines(this.pool, rows);
  }

  insert(order: StoredOrder, context: WriteContext): Promise<void> {
    return withTransaction(this.pool, async (client) => {
      await client.query(`insert into orders (${COLUMNS}, origin) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
        order.id, order.customerId, order.state, order.totalCents, order.currency, order.paymentId, order.version, order.placedAt, order.updatedAt, context.origin,
      ]);
      for (const [index, line] of order.lines.entries()) {
        await client.query('insert into order_lines (order_id, line_no, product_id, quantity, unit_price_cents) values ($1, $2, $3, $4, $5)', [order.id, index, line.productId, line.quantity, line.priceCents]);
      }
      await recordEvent(client, { aggregateType: 'order', aggregateId: order.id, type: 'OrderPlaced', version: order.version, payload: order }, context);
    });
  }

  /**
   * Locks a confirmed order of `customerId`, runs `beforeCommit` (the remote compensations) while holding the lock,
   * then marks it cancelled: two cancels of one order never both run.
   */
  cancel(customerId: string, id: string, context: WriteContext, beforeCommit: (order: StoredOrder) => Promise<void>): Promise<StoredOrder> {
    return withTransaction(this.pool, async (client) => {
      const order = await this.find(customerId, id, client, true);
      if (order.state !== 'CONFIRMED') throw new InvalidStateError(`order ${id} is ${STATUS_OF[order.state]}`);
      await beforeCommit(order);
      const cancelled: StoredOrder = { ...order, state: 'CANCELLED', version: order.version + 1, updatedAt: new Date().toISOString() };
      await client.query('update orders set state = $2, version = $3, origin = $4, updated_at = $5 where id = $1', [id, cancelled.state, cancelled.version, context.origin, cancelled.updatedAt]);
      await recordEvent(client, { aggregateType: 'order', aggregateId: id, type: 'OrderCancelled', version: cancelled.version, payload: cancelled }, context);
      return cancelled;
    });
  }
}
