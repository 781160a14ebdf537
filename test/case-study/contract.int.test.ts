import { randomUUID } from 'node:crypto';
import { Auth } from '../../service-kit';
import { APPROVED_CARD, auth, DECLINED_CARD, RunningTarget, targetsServing, type TargetDefinition } from './fixtures';

/**
 * The shop's public API contract. Every block runs unchanged against the monolith and against the extracted
 * service that serves the same routes, each on its own fresh database.
 */
function withTarget(definition: TargetDefinition): () => RunningTarget {
  let target: RunningTarget | undefined;
  beforeAll(async () => {
    target = await RunningTarget.start(definition);
  });
  afterAll(async () => {
    await target?.stop();
  });
  return () => target!;
}

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

function expectError(response: { status: number; body: unknown }, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(response.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
}

function expectFieldError(response: { status: number; body: unknown }, fields: string[]): void {
  expectError(response, 400, 'SFG_CASE_VALIDATION');
  const named = (response.body as { error: { fields: { field: string }[] } }).error.fields.map((problem) => problem.field);
  expect(named.sort()).toEqual([...fields].sort());
}

const origin = (target: RunningTarget) => target.app.origin;

describe.each(targetsServing('users'))('users API on $name', (definition) => {
  const target = withTarget(definition);

  it('registers, logs in and reads and updates the profile, writing versioned events', async () => {
    const email = `${randomUUID()}@Example.test`;
    const registered = await target().api.request('POST', '/api/users', { body: { email, name: 'Grace', password: 'hopper-1906' } });
    expect(registered.status).toBe(201);
    expect(registered.body).toEqual({ id: expect.any(String), email: email.toLowerCase(), name: 'Grace', version: 1, createdAt: expect.any(String), updatedAt: expect.any(String) });
    const login = await target().api.request<{ token: string; user: { id: string } }>('POST', '/api/users/login', { body: { email, password: 'hopper-1906' } });
    expect(login.status).toBe(200);
    expect(login.body.user.id).toBe(registered.body.id);
    const token = login.body.token;
    const me = await target().api.request('GET', '/api/users/me', { token });
    expect(me.body).toEqual(registered.body);
    const renamed = await target().api.request('PATCH', '/api/users/me', { token, body: { name: 'Grace H.' } });
    expect(renamed.body).toMatchObject({ name: 'Grace H.', version: 2 });
    expect(await target().events('user', String(registered.body.id))).toEqual([
      { type: 'UserRegistered', origin: origin(target()), version: '1' },
      { type: 'UserUpdated', origin: origin(target()), version: '2' },
    ]);
  });

  it('rejects bad input, a taken email, wrong passwords and missing tokens in the shared format', async () => {
    expectFieldError(await target().api.request('POST', '/api/users', { body: { email: 'nope', name: '', password: 'short' } }), ['email', 'name', 'password']);
    expectFieldError(await target().api.request('POST', '/api/users', { raw: '{"email":' }), ['(body)']);
    const user = await target().user();
    expectError(await target().api.request('POST', '/api/users', { body: { email: user.email, name: 'Again', password: 'whatever-1' } }), 409, 'SFG_CASE_DUPLICATE');
    expectError(await target().api.request('POST', '/api/users/login', { body: { email: user.email, password: 'wrong-password' } }), 401, 'SFG_CASE_UNAUTHORIZED');
    expectError(await target().api.request('GET', '/api/users/me'), 401, 'SFG_CASE_UNAUTHORIZED');
    expectError(await target().api.request('GET', '/api/users/me', { token: 'not-a-jwt' }), 401, 'SFG_CASE_UNAUTHORIZED');
  });
});

describe.each(targetsServing('catalog'))('catalogue API on $name', (definition) => {
  const target = withTarget(definition);

  it('creates, lists, reads, updates and adjusts stock, writing versioned events', async () => {
    const { token } = await target().user();
    const product = await target().product(token, 5, 990);
    expect(product).toMatchObject({ name: 'Teapot', priceCents: 990, currency: 'EUR', stock: 5, version: 1 });
    const listed = await target().api.request<unknown[]>('GET', '/api/products?limit=200');
    expect(listed.body).toContainEqual(product);
    expect((await target().api.request('GET', `/api/products/${product.id}`)).body).toEqual(product);
    const renamed = await target().api.request('PATCH', `/api/products/${product.id}`, { token, body: { priceCents: 1090 } });
    expect(renamed.body).toMatchObject({ priceCents: 1090, version: 2 });
    const restocked = await target().api.request('POST', `/api/products/${product.id}/stock`, { token, body: { delta: 3 } });
    expect(restocked.body).toMatchObject({ stock: 8, version: 3 });
    expect(await target().events('product', product.id)).toEqual([
      { type: 'ProductCreated', origin: origin(target()), version: '1' },
      { type: 'ProductUpdated', origin: origin(target()), version: '2' },
      { type: 'StockAdjusted', origin: origin(target()), version: '3' },
    ]);
  });

  it('answers 400 naming the field, 404 for unknown ids and 409 when stock would go negative', async () => {
    const { token } = await target().user();
    const product = await target().product(token, 2);
    expectFieldError(await target().api.request('POST', '/api/products', { token, body: { sku: 'x', name: 'T', priceCents: -1, currency: 'euro', stock: 1.5 } }), ['sku', 'priceCents', 'currency', 'stock']);
    expectFieldError(await target().api.request('GET', '/api/products?limit=0'), ['limit']);
    expectError(await target().api.request('GET', `/api/products/${UNKNOWN_ID}`), 404, 'SFG_CASE_NOT_FOUND');
    expectError(await target().api.request('GET', '/api/products/not-an-id'), 404, 'SFG_CASE_NOT_FOUND');
    expectError(await target().api.request('POST', `/api/products/${product.id}/stock`, { token, body: { delta: -3 } }), 409, 'SFG_CASE_INSUFFICIENT_STOCK');
    expectError(await target().api.request('POST', '/api/products', { body: {} }), 401, 'SFG_CASE_UNAUTHORIZED');
  });
});

describe.each(targetsServing('payments'))('payments API on $name', (definition) => {
  const target = withTarget(definition);

  it('authorises, captures and refunds with the test gateway', async () => {
    const { token } = await target().user();
    const authorised = await target().api.request<{ id: string }>('POST', '/api/payments', { token, body: { amountCents: 500, currency: 'EUR', card: APPROVED_CARD } });
    expect(authorised.status).toBe(201);
    expect(authorised.body).toMatchObject({ status: 'authorised', amountCents: 500, cardLast4: '4242', declineReason: null, version: 1 });
    const id = authorised.body.id;
    expect((await target().api.request('POST', `/api/payments/${id}/capture`, { token })).body).toMatchObject({ status: 'captured', version: 2 });
    expect((await target().api.request('POST', `/api/payments/${id}/refund`, { token })).body).toMatchObject({ status: 'refunded', version: 3 });
    expect((await target().api.request('GET', `/api/payments/${id}`, { token })).body).toMatchObject({ status: 'refunded', version: 3 });
    expectError(await target().api.request('POST', `/api/payments/${id}/capture`, { token }), 409, 'SFG_CASE_INVALID_STATE');
    expect((await target().events('payment', id)).map((event) => event.type).sort()).toEqual(['PaymentAuthorised', 'PaymentCaptured', 'PaymentRefunded']);
  });

  it('declines test cards with 402, validates cards with 400 and hides other users\' payments', async () => {
    const { token } = await target().user();
    const declined = await target().api.request('POST', '/api/payments', { token, body: { amountCents: 500, currency: 'EUR', card: DECLINED_CARD } });
    expectError(declined, 402, 'SFG_CASE_PAYMENT_DECLINED');
    const badCard = { ...APPROVED_CARD, number: '4242424242424241', cvc: '1' };
    expectFieldError(await target().api.request('POST', '/api/payments', { token, body: { amountCents: 0, currency: 'EUR', card: badCard } }), ['amountCents', 'card.number', 'card.cvc']);
    const mine = await target().api.request<{ id: string }>('POST', '/api/payments', { token, body: { amountCents: 100, currency: 'EUR', card: APPROVED_CARD } });
    const other = await target().user();
    expectError(await target().api.request('GET', `/api/payments/${mine.body.id}`, { token: other.token }), 404, 'SFG_CASE_NOT_FOUND');
    expectError(await target().api.request('GET', `/api/payments/${UNKNOWN_ID}`, { token }), 404, 'SFG_CASE_NOT_FOUND');
  });
});

describe.each(targetsServing('orders'))('orders API on $name', (definition) => {
  const target = withTarget(definition);

  const stockOf = (productId: string) => target().stockOf(productId);

  it('places an order (reserving stock, capturing payment), lists, reads and cancels it (releasing and refunding)', async () => {
    const user = await target().user();
    const teapot = await target().product(user.token, 10, 1250);
    const cup = await target().product(user.token, 10, 300);
    const placed = await target().api.request<{ id: string; paymentId: string }>('POST', '/api/orders', {
      token: user.token,
      body: { items: [{ productId: teapot.id, quantity: 1 }, { productId: cup.id, quantity: 4 }], card: APPROVED_CARD },
    });
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({ userId: user.id, status: 'placed', totalCents: 2450, currency: 'EUR', version: 1 });
    expect([await stockOf(teapot.id), await stockOf(cup.id)]).toEqual([9, 6]);
    const listed = await target().api.request<{ id: string }[]>('GET', '/api/orders', { token: user.token });
    expect(listed.body.map((order) => order.id)).toEqual([placed.body.id]);
    expect((await target().api.request('GET', `/api/orders/${placed.body.id}`, { token: user.token })).body).toEqual(placed.body);
    const cancelled = await target().api.request('POST', `/api/orders/${placed.body.id}/cancel`, { token: user.token });
    expect(cancelled.body).toMatchObject({ status: 'cancelled', version: 2 });
    expect([await stockOf(teapot.id), await stockOf(cup.id)]).toEqual([10, 10]);
    expect((await target().events('payment', placed.body.paymentId)).map((event) => event.type).sort()).toEqual(['PaymentAuthorised', 'PaymentCaptured', 'PaymentRefunded']);
    expect(await target().events('order', placed.body.id)).toEqual([
      { type: 'OrderPlaced', origin: origin(target()), version: '1' },
      { type: 'OrderCancelled', origin: origin(target()), version: '2' },
    ]);
    expectError(await target().api.request('POST', `/api/orders/${placed.body.id}/cancel`, { token: user.token }), 409, 'SFG_CASE_INVALID_STATE');
  });

  it('answers 409 for insufficient stock and 402 for a declined card, leaving stock untouched', async () => {
    const user = await target().user();
    const product = await target().product(user.token, 2);
    const tooMany = await target().api.request('POST', '/api/orders', { token: user.token, body: { items: [{ productId: product.id, quantity: 3 }], card: APPROVED_CARD } });
    expectError(tooMany, 409, 'SFG_CASE_INSUFFICIENT_STOCK');
    const declined = await target().api.request('POST', '/api/orders', { token: user.token, body: { items: [{ productId: product.id, quantity: 1 }], card: DECLINED_CARD } });
    expectError(declined, 402, 'SFG_CASE_PAYMENT_DECLINED');
    expect(await stockOf(product.id)).toBe(2);
    expect((await target().api.request<unknown[]>('GET', '/api/orders', { token: user.token })).body).toEqual([]);
  });

  it('answers 400 naming the field, 404 for unknown products and orders, 401 without a token', async () => {
    const user = await target().user();
    const product = await target().product(user.token);
    expectFieldError(
      await target().api.request('POST', '/api/orders', { token: user.token, body: { items: [{ productId: product.id, quantity: 0 }], card: { ...APPROVED_CARD, expMonth: 13 } } }),
      ['items.0.quantity', 'card.expMonth'],
    );
    expectError(await target().api.request('POST', '/api/orders', { token: user.token, body: { items: [{ productId: UNKNOWN_ID, quantity: 1 }], card: APPROVED_CARD } }), 404, 'SFG_CASE_NOT_FOUND');
    const dollars = await target().product(user.token, 10, 500, 'USD');
    const mixed = { items: [{ productId: product.id, quantity: 1 }, { productId: dollars.id, quantity: 1 }], card: APPROVED_CARD };
    expectFieldError(await target().api.request('POST', '/api/orders', { token: user.token, body: mixed }), ['items']);
    expectError(await target().api.request('GET', `/api/orders/${UNKNOWN_ID}`, { token: user.token }), 404, 'SFG_CASE_NOT_FOUND');
    expectError(await target().api.request('GET', '/api/orders'), 401, 'SFG_CASE_UNAUTHORIZED');
  });
});

describe.each(targetsServing('users'))('auth continuity on $name', (definition) => {
  const target = withTarget(definition);

  it('accepts a token signed with the shared secret elsewhere and rejects one signed with another secret', async () => {
    const user = await target().user();
    const foreignToken = auth.issue({ id: user.id, email: user.email });
    expect((await target().api.request('GET', '/api/users/me', { token: foreignToken })).status).toBe(200);
    const forged = new Auth({ jwtSecret: 'some-other-secret-entirely', tokenTtlSeconds: 600 }).issue({ id: user.id, email: user.email });
    expectError(await target().api.request('GET', '/api/users/me', { token: forged }), 401, 'SFG_CASE_UNAUTHORIZED');
  });
});

describe('price history on the catalog service (its own model; not part of the shared contract)', () => {
  const target = withTarget(targetsServing('catalog').find((definition) => definition.name === 'catalog service')!);

  it('keeps every price a product had, oldest first, and only price changes', async () => {
    const { token } = await target().user();
    const product = await target().product(token, 5, 990);
    await target().api.request('PATCH', `/api/products/${product.id}`, { token, body: { priceCents: 1090 } });
    await target().api.request('PATCH', `/api/products/${product.id}`, { token, body: { name: 'Renamed, same price' } });
    await target().api.request('POST', `/api/products/${product.id}/stock`, { token, body: { delta: 1 } });
    const history = await target().api.request<{ version: number; priceCents: number }[]>('GET', `/api/products/${product.id}/prices`);
    expect(history.body.map(({ version, priceCents }) => ({ version, priceCents }))).toEqual([{ version: 1, priceCents: 990 }, { version: 2, priceCents: 1090 }]);
    expectError(await target().api.request('GET', `/api/products/${UNKNOWN_ID}/prices`), 404, 'SFG_CASE_NOT_FOUND');
  });

  it('applies a stock change with a reference once, however often it is sent', async () => {
    const { token } = await target().user();
    const product = await target().product(token, 5);
    const reserve = () => target().api.request<{ stock: number }>('POST', `/api/products/${product.id}/stock`, { token, body: { delta: -2, reference: `order:${product.id}:reserve` } });
    expect((await reserve()).body.stock).toBe(3);
    expect((await reserve()).body.stock).toBe(3);
    expect(await target().stockOf(product.id)).toBe(3);
  });
});
