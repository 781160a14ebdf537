import { randomUUID } from 'node:crypto';
import type { ClientBase, Pool } from 'pg';
import { authoriseCard, InvalidStateError, NotFoundError, PaymentDeclinedError, recordEvent, withTransaction, type Card, type WriteContext } from '../../service-kit';

export type PaymentStatus = 'authorised' | 'captured' | 'refunded' | 'declined';

export interface Payment {
  id: string;
  userId: string;
  orderId: string | null;
  amountCents: number;
  currency: string;
  status: PaymentStatus;
  cardLast4: string;
  declineReason: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface AuthoriseRequest {
  userId: string;
  orderId: string | null;
  amountCents: number;
  currency: string;
  card: Card;
}

const COLUMNS = 'id, user_id, order_id, amount_cents, currency, status, card_last4, decline_reason, version, created_at, updated_at';

function fromRow(row: Record<string, unknown>): Payment {
  return {
    id: String(row.id),
    userId: String(row.user_id),
    orderId: row.order_id === null ? null : String(row.order_id),
    amountCents: Number(row.amount_cents),
    currency: String(row.currency),
    status: row.status as PaymentStatus,
    cardLast4: String(row.card_last4),
    declineReason: row.decline_reason === null ? null : String(row.decline_reason),
    version: Number(row.version),
    createdAt: (row.created_at as Date).toISOString(),
    updatedAt: (row.updated_at as Date).toISOString(),
  };
}

const EVENT_OF: Record<PaymentStatus, string> = { authorised: 'PaymentAuthorised', declined: 'PaymentDeclined', captured: 'PaymentCaptured', refunded: 'PaymentRefunded' };

async function save(client: ClientBase, payment: Payment, context: WriteContext): Promise<void> {
  await client.query(
    `insert into payments (${COLUMNS}, origin) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (id) do update set status = excluded.status, version = excluded.version, origin = excluded.origin, updated_at = excluded.updated_at`,
    [payment.id, payment.userId, payment.orderId, payment.amountCents, payment.currency, payment.status, payment.cardLast4, payment.declineReason, payment.version, payment.createdAt, payment.updatedAt, context.origin],
  );
  await recordEvent(client, { aggregateType: 'payment', aggregateId: payment.id, type: EVENT_OF[payment.status], version: payment.version, payload: payment }, context);
}

/** Which states a payment may move to, and from where. */
const TRANSITIONS: Record<'captured' | 'refunded', PaymentStatus[]> = { captured: ['authorised'], refunded: ['authorised', 'captured'] };

/** Authorise through the provider, capture, refund; every payment, declined ones included, is on record. */
export class Payments {
  constructor(private readonly pool: Pool) {}

  async authorise(request: AuthoriseRequest, context: WriteContext): Promise<Payment> {
    const outcome = authoriseCard(request.card.number);
    const now = new Date().toISOString();
    const payment: Payment = {
      id: randomUUID(),
      userId: request.userId,
      orderId: request.orderId,
      amountCents: request.amountCents,
      currency: request.currency,
      status: outcome.approved ? 'authorised' : 'declined',
      cardLast4: outcome.last4,
      declineReason: outcome.approved ? null : outcome.reason,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    await withTransaction(this.pool, (client) => save(client, payment, context));
    if (!outcome.approved) throw new PaymentDeclinedError(payment.id, outcome.reason);
    return payment;
  }

  async get(userId: string, id: string): Promise<Payment> {
    const row = (await this.pool.query(`select ${COLUMNS} from payments where id = $1`, [id])).rows[0];
    if (!row || row.user_id !== userId) throw new NotFoundError('payment', id);
    return fromRow(row);
  }

  /** Moves the caller's payment to `status` when its current state allows it (409 otherwise). */
  move(userId: string, id: string, status: 'captured' | 'refunded', context: WriteContext): Promise<Payment> {
    return withTransaction(this.pool, async (client) => {
      const row = (await client.query(`select ${COLUMNS} from payments where id = $1 for update`, [id])).rows[0];
      if (!row || row.user_id !== userId) throw new NotFoundError('payment', id);
      const current = fromRow(row);
      if (!TRANSITIONS[status].includes(current.status)) {
        throw new InvalidStateError(`payment ${id} is ${current.status}, only ${TRANSITIONS[status].join(' or ')} payments can be ${status}`);
      }
      const moved: Payment = { ...current, status, version: current.version + 1, updatedAt: new Date().toISOString() };
      await save(client, moved, context);
      return moved;
    });
  }
}
