import { z } from 'zod';

/**
 * A deterministic stand-in for an external payment provider, in the spirit of Stripe's test mode: the card
 * number alone decides the outcome. Capture and refund of an authorised payment always succeed.
 *
 * | card number        | result                          |
 * |--------------------|---------------------------------|
 * | 4242424242424242   | approved (Visa)                 |
 * | 5555555555554444   | approved (Mastercard)           |
 * | 4000000000000002   | declined: card_declined         |
 * | 4000000000009995   | declined: insufficient_funds    |
 * | 4000000000000069   | declined: expired_card          |
 * | any other Luhn-valid number | declined: unknown_test_card |
 */
export const TEST_CARDS = {
  approved: ['4242424242424242', '5555555555554444'],
  declined: {
    '4000000000000002': 'card_declined',
    '4000000000009995': 'insufficient_funds',
    '4000000000000069': 'expired_card',
  } as Record<string, string>,
} as const;

export type Authorisation = { approved: true; last4: string } | { approved: false; last4: string; reason: string };

export function authoriseCard(cardNumber: string): Authorisation {
  const last4 = cardNumber.slice(-4);
  if ((TEST_CARDS.approved as readonly string[]).includes(cardNumber)) return { approved: true, last4 };
  return { approved: false, last4, reason: TEST_CARDS.declined[cardNumber] ?? 'unknown_test_card' };
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

export const cardSchema = z.object({
  number: z
    .string()
    .regex(/^\d{12,19}$/, 'must be 12 to 19 digits')
    .refine(luhnValid, 'fails the Luhn check'),
  expMonth: z.number().int().min(1).max(12),
  expYear: z.number().int().min(2000).max(2100),
  cvc: z.string().regex(/^\d{3,4}$/, 'must be 3 or 4 digits'),
});
export type Card = z.infer<typeof cardSchema>;
