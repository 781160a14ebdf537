import { shareOption, UsageError } from '../../cli/command';

describe('shareOption', () => {
  it('reads a share from 0 to 1 and falls back when the flag is absent', () => {
    expect(shareOption('order-share', '0.05', 0.5)).toBe(0.05);
    expect(shareOption('order-share', '1', 0.5)).toBe(1);
    expect(shareOption('order-share', undefined, 0.5)).toBe(0.5);
  });

  it('names the flag and the bad value', () => {
    for (const bad of ['1.5', '-0.1', 'half', '']) {
      expect(() => shareOption('order-share', bad, 0.5)).toThrow(new UsageError(`--order-share must be a number from 0 to 1, got '${bad}'`));
    }
  });
});
