import { z } from 'zod';
import { cardSchema } from './payment-gateway';

/**
 * The shop's public API, as request schemas: the one contract the monolith and every service answer to (the
 * contract suite runs unchanged against each). How each side stores what it accepts is its own affair.
 */
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR');
const productName = z.string().trim().min(1).max(200);
const userName = z.string().trim().min(1).max(100);

export const contract = {
  users: {
    register: z.object({ email: z.email(), name: userName, password: z.string().min(8).max(200) }),
    login: z.object({ email: z.email(), password: z.string().min(1) }),
    profile: z.object({ name: userName }),
  },
  products: {
    create: z.object({
      sku: z.string().regex(/^[A-Z0-9-]{3,40}$/, 'must be 3 to 40 characters A-Z, 0-9 or -'),
      name: productName,
      priceCents: z.number().int().nonnegative(),
      currency,
      stock: z.number().int().nonnegative(),
    }),
    update: z
      .object({ name: productName.optional(), priceCents: z.number().int().nonnegative().optional() })
      .refine((body) => body.name !== undefined || body.priceCents !== undefined, 'name or priceCents is required'),
    stock: z.object({ delta: z.number().int().refine((delta) => delta !== 0, 'must not be 0') }),
    page: z.object({
      limit: z.coerce.number().int().min(1).max(200).default(50),
      offset: z.coerce.number().int().min(0).default(0),
    }),
  },
  orders: {
    place: z.object({
      items: z
        .array(z.object({ productId: z.uuid(), quantity: z.number().int().min(1).max(1000) }))
        .min(1)
        .max(50),
      card: cardSchema,
    }),
    list: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
  },
  payments: {
    authorise: z.object({ amountCents: z.number().int().positive(), currency, card: cardSchema, orderId: z.uuid().nullish() }),
  },
};
