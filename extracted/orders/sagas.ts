import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { InsufficientStockError, PeerAnswerError, ValidationError, type Card, type PeerCall, type PeerClient, type PeerResponse, type WriteContext } from '../../service-kit';
import { toPublicOrder, type OrderLine, type OrderStore, type PublicOrder, type StoredOrder } from './orders';

export interface PlaceOrder {
  items: { productId: string; quantity: number }[];
  card: Card;
}

interface PublicProduct {
  id: string;
  priceCents: number;
  currency: string;
  stock: number;
}

/** The caller's credentials and trace, passed on to the services that own stock and payments. */
export type Caller = Pick<PeerCall, 'authorization' | 'traceparent' | 'recordWritten'>;

/** Merges repeated lines and sorts by product id, so concurrent orders reserve products in one order. */
function normaliseLines(items: PlaceOrder['items']): { productId: string; quantity: number }[] {
  const quantities = new Map<string, number>();
  for (const item of items) quantities.set(item.productId, (quantities.get(item.productId) ?? 0) + item.quantity);
  return [...quantities].sort(([a], [b]) => a.localeCompare(b)).map(([productId, quantity]) => ({ productId, quantity }));
}

function expect<T>(peer: PeerClient, answer: PeerResponse<T>, status: number): T {
  if (answer.status !== status) throw new PeerAnswerError(peer.name, answer.status, answer.body);
  return answer.body;
}

const reference = (orderId: string, step: 'reserve' | 'release', productId: string) => `order:${orderId}:${step}:${productId}`;

/**
 * Placing and cancelling an order touch data this service does not own: stock belongs to the catalog service,
 * payments to the payments service. Both are reached through their APIs as sagas: each step has a compensation
 * that runs, in reverse, when a later step fails; stock changes carry a reference, so a step or compensation
 * that is retried is applied once.
 */
export class OrderSagas {
  private readonly compensations: Counter;

  constructor(
    private readonly store: OrderStore,
    private readonly catalog: PeerClient,
    private readonly payments: PeerClient,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.compensations = new Counter({
      name: 'strangler_case_saga_compensations_total',
      help: 'Compensating steps the orders service ran after a later step of a saga failed, by step and outcome.',
      labelNames: ['step', 'outcome'],
      registers: [registry],
    });
  }

  /**
   * Checks every product (404, one currency, enough stock), reserves stock line by line, authorises and captures
   * the payment, and records the order. A failure releases what was reserved and refunds what was charged; a
   * declined card answers 402 with its payment on record at the payments service.
   */
  async place(customerId: string, input: PlaceOrder, caller: Caller, context: WriteContext): Promise<PublicOrder> {
    const lines = normaliseLines(input.items);
    const products: PublicProduct[] = [];
    for (const line of lines) products.push(expect(this.catalog, await this.catalog.request<PublicProduct>('GET', `/api/products/${line.productId}`, caller), 200));
    const currency = products[0]!.currency;
    const foreign = products.find((product) => product.currency !== currency);
    if (foreign) throw new ValidationError([{ field: 'items', message: `all products of an order must be priced in one currency (${currency}), ${foreign.id} is not` }]);
    lines.forEach((line, index) => {
      if (products[index]!.stock < line.quantity) throw new InsufficientStockError(line.productId, products[index]!.stock, line.quantity);
    });

    const orderId = randomUUID();
    const reserved: OrderLine[] = [];
    let unsettled: OrderLine | undefined;
    let paymentId: string | undefined;
    try {
      for (const [index, line] of lines.entries()) {
        const reservation: OrderLine = { productId: line.productId, quantity: line.quantity, priceCents: products[index]!.priceCents };
        unsettled = reservation;
        const product = await retry(() => this.reserve(orderId, reservation, caller));
        unsettled = undefined;
        reserved.push({ ...reservation, priceCents: product.priceCents });
      }
      const totalCents = reserved.reduce((sum, line) => sum + line.priceCents * line.quantity, 0);
      const payment = { ...caller, body: { amountCents: totalCents, currency, card: input.card, orderId }, idempotencyKey: `order:${orderId}:authorise` };
      paymentId = expect(this.payments, await retry(() => this.payments.request<{ id: string }>('POST', '/api/payments', payment)), 201).id;
      const capture = { ...caller, idempotencyKey: `order:${orderId}:capture` };
      expect(this.payments, await retry(() => this.payments.request('POST', `/api/payments/${paymentId}/capture`, capture)), 200);
      const now = new Date().toISOString();
      const order: StoredOrder = { id: orderId, customerId, state: 'CONFIRMED', lines: reserved, totalCents, currency, paymentId, version: 1, placedAt: now, updatedAt: now };
      await this.store.insert(order, context);
      return toPublicOrder(order);
    } catch (error) {
      // An answer (sold out, say) settles the reservation it refused; only a missing answer leaves it unsettled.
      await this.compensate(orderId, reserved, error instanceof PeerAnswerError ? undefined : unsettled, paymentId, caller);
      throw error;
    }
  }

  /** Refunds the payment and releases the stock while holding the order's lock, then marks it cancelled. */
  async cancel(customerId: string, id: string, caller: Caller, context: WriteContext): Promise<PublicOrder> {
    const cancelled = await this.store.cancel(customerId, id, context, async (order) => {
      await this.refund(order.paymentId, caller);
      for (const line of order.lines) await this.release(order.id, line, caller);
    });
    return toPublicOrder(cancelled);
  }

  /** Refunds a payment; one already refunded (by its own route, or by an earlier attempt) counts as done. */
  private async refund(paymentId: string, caller: Caller): Promise<void> {
    const answer = await this.payments.request('POST', `/api/payments/${paymentId}/refund`, caller);
    if (answer.status === 200) return;
    if (answer.status === 409) {
      const current = expect(this.payments, await this.payments.request<{ status: string }>('GET', `/api/payments/${paymentId}`, caller), 200);
      if (current.status === 'refunded') return;
    }
    throw new PeerAnswerError(this.payments.name, answer.status, answer.body);
  }

  private async reserve(orderId: string, line: OrderLine, caller: Caller): Promise<PublicProduct> {
    const body = { delta: -line.quantity, reference: reference(orderId, 'reserve', line.productId) };
    return expect(this.catalog, await this.catalog.request<PublicProduct>('POST', `/api/products/${line.productId}/stock`, { ...caller, body }), 200);
  }

  private async release(orderId: string, line: OrderLine, caller: Caller): Promise<void> {
    const body = { delta: line.quantity, reference: reference(orderId, 'release', line.productId) };
    expect(this.catalog, await this.catalog.request('POST', `/api/products/${line.productId}/stock`, { ...caller, body }), 200);
  }

  /**
   * `unsettled` is a reservation whose answer never came (the catalog timed out or failed): it may have been made.
   * Sending it again with its reference settles that (made once either way, or refused for want of stock), and
   * what was made is then released, so no unit stays held by an order that does not exist.
   */
  private async compensate(orderId: string, reserved: OrderLine[], unsettled: OrderLine | undefined, paymentId: string | undefined, caller: Caller): Promise<void> {
    const steps: Array<{ step: string; run: () => Promise<void> }> = [];
    if (paymentId) steps.push({ step: 'refund', run: () => this.refundIfCharged(paymentId, caller) });
    if (unsettled) steps.push({ step: 'settle', run: () => this.settle(orderId, unsettled, caller) });
    for (const line of [...reserved].reverse()) steps.push({ step: 'release', run: () => this.release(orderId, line, caller) });
    for (const { step, run } of steps) {
      try {
        await retry(run);
        this.compensations.inc({ step, outcome: 'done' });
      } catch (error) {
        this.compensations.inc({ step, outcome: 'failed' });
        this.logger.error({ err: error, orderId, step }, 'compensation failed: stock or payment needs an operator');
      }
    }
  }

  private async settle(orderId: string, line: OrderLine, caller: Caller): Promise<void> {
    try {
      await this.reserve(orderId, line, caller);
    } catch (error) {
      if (error instanceof PeerAnswerError && error.status === 409) return;
      throw error;
    }
    await this.release(orderId, line, caller);
  }

  /** A declined payment was never charged: nothing to refund. */
  private async refundIfCharged(paymentId: string, caller: Caller): Promise<void> {
    const current = expect(this.payments, await this.payments.request<{ status: string }>('GET', `/api/payments/${paymentId}`, caller), 200);
    if (current.status === 'authorised' || current.status === 'captured') await this.refund(paymentId, caller);
  }
}

/** Runs a step again, up to `attempts` times, while it fails with a retriable error (a peer that did not answer). */
async function retry<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= attempts || !(error as { retriable?: boolean }).retriable) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
