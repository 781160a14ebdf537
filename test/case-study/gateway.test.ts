import { authoriseCard, cardSchema, TEST_CARDS, ValidationError, validate } from '../../service-kit';

describe('test payment gateway', () => {
  it('approves the documented approval cards and declines the documented decline cards with their reason', () => {
    for (const number of TEST_CARDS.approved) expect(authoriseCard(number)).toEqual({ approved: true, last4: number.slice(-4) });
    expect(authoriseCard('4000000000000002')).toEqual({ approved: false, last4: '0002', reason: 'card_declined' });
    expect(authoriseCard('4000000000009995')).toEqual({ approved: false, last4: '9995', reason: 'insufficient_funds' });
    expect(authoriseCard('4000000000000069')).toEqual({ approved: false, last4: '0069', reason: 'expired_card' });
    expect(authoriseCard('4111111111111111')).toEqual({ approved: false, last4: '1111', reason: 'unknown_test_card' });
  });

  it('validates card input, naming every bad field', () => {
    const good = { number: '4242424242424242', expMonth: 1, expYear: 2031, cvc: '999' };
    expect(validate(cardSchema, good)).toEqual(good);
    try {
      validate(cardSchema, { number: '4242424242424241', expMonth: 0, expYear: 2031, cvc: 'abc' });
      throw new Error('expected a ValidationError');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).fields.map((problem) => problem.field).sort()).toEqual(['cvc', 'expMonth', 'number']);
      expect((error as ValidationError).code).toBe('SFG_CASE_VALIDATION');
    }
  });
});
