import { randomUUID } from 'node:crypto';
import type { ClientBase, Pool } from 'pg';
import { findAggregate, type Payment } from '../../data/tables';
import { authoriseCard, type Card, InvalidStateError, NotFoundError, PaymentDeclinedError, withTransaction } from '../../../service-kit';
import { nextVersion, recordChange, type WriteContext } from '../../data/changes';

export interface AuthoriseRequest {
  userId: string;
  orderId: string | null;
  amountCents: number;
  currency: string;
  card: Card;
}

/**
 * Authorises through the test gateway inside the caller's transaction and records the payment, approved
 * (`PaymentAuthorised`) or declined (`PaymentDeclined`). A declined payment is returned, not thrown, so the
 * caller can commit the record and then answer 402.
 */
export async function authoriseIn(client: ClientBase, request: AuthoriseRequest, context: WriteContext): Promise<Payment> {
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
  await recordChange(client, 'payment', payment, outcome.approved ? 'PaymentAuthorised' : 'PaymentDeclined', context);
  return payment;
}

async function lockOwnPayment(client: ClientBase, userId: string, id: string): Promise<Payment> {
  const stored = await findAggregate(client, 'payment', id, { forUpdate: true });
  if (!stored || stored.entity.userId !== userId) throw new NotFoundError('payment', id);
  return stored.entity;
}

export async function captureIn(client: ClientBase, payment: Payment, context: WriteContext): Promise<Payment> {
  if (payment.status !== 'authorised') throw new InvalidStateError(`payment ${payment.id} is ${payment.status}, only authorised payments can be captured`);
  const captured = nextVersion(payment, { status: 'captured' });
  await recordChange(client, 'payment', captured, 'PaymentCaptured', context);
  return captured;
}

export async function refundIn(client: ClientBase, payment: Payment, context: WriteContext): Promise<Payment> {
  if (payment.status !== 'authorised' && payment.status !== 'captured') {
    throw new InvalidStateError(`payment ${payment.id} is ${payment.status}, only authorised or captured payments can be refunded`);
  }
  const refunded = nextVersion(payment, { status: 'refunded' });
  await recordChange(client, 'payment', refunded, 'PaymentRefunded', context);
  return refunded;
}

function throwIfDeclined(payment: Payment): void {
  if (payment.status === 'declined') throw new PaymentDeclinedError(payment.id, payment.declineReason ?? 'declined');
}

export class PaymentService {
  constructor(private readonly pool: Pool) {}

  async authorise(request: AuthoriseRequest, context: WriteContext): Promise<Payment> {
    const payment = await withTransaction(this.pool, (client) => authoriseIn(client, request, context));
    throwIfDeclined(payment);
    return payment;
  }

  capture(userId: string, id: string, context: WriteContext): Promise<Payment> {
    return withTransaction(this.pool, async (client) => captureIn(client, await lockOwnPayment(client, userId, id), context));
  }

  refund(userId: string, id: string, context: WriteContext): Promise<Payment> {
    return withTransaction(this.pool, async (client) => refundIn(client, await lockOwnPayment(client, userId, id), context));
  }

  async get(userId: string, id: string): Promise<Payment> {
    const stored = await findAggregate(this.pool, 'payment', id);
    if (!stored || stored.entity.userId !== userId) throw new NotFoundError('payment', id);
    return stored.entity;
  }
}
