export const CIRCUIT_CLOSED = 0;
export const CIRCUIT_HALF_OPEN = 1;
export const CIRCUIT_OPEN = 2;
export type CircuitState = typeof CIRCUIT_CLOSED | typeof CIRCUIT_HALF_OPEN | typeof CIRCUIT_OPEN;
export const CIRCUIT_STATE_NAMES = ['closed', 'half-open', 'open'] as const;

/**
 * Per-cluster breaker: `failureThreshold` consecutive failures open it; after `openMs` one probe request is let
 * through (half-open); its success closes the circuit, its failure opens it again. Every admitted request must end
 * in exactly one of onSuccess, onFailure or onAbandon.
 */
export class CircuitBreaker {
  private state: CircuitState = CIRCUIT_CLOSED;
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probeInFlight = false;

  constructor(
    private readonly failureThreshold: number,
    private readonly openMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Admits a request (and may start a half-open probe). */
  tryAcquire(): boolean {
    if (this.state === CIRCUIT_CLOSED) return true;
    if (this.state === CIRCUIT_OPEN) {
      if (this.now() - this.openedAt < this.openMs) return false;
      this.state = CIRCUIT_HALF_OPEN;
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** What tryAcquire would answer, without side effects (for /explain). */
  wouldAdmit(): boolean {
    if (this.state === CIRCUIT_CLOSED) return true;
    if (this.state === CIRCUIT_OPEN) return this.now() - this.openedAt >= this.openMs;
    return !this.probeInFlight;
  }

  current(): CircuitState {
    return this.state;
  }

  onSuccess(): void {
    this.consecutiveFailures = 0;
    this.probeInFlight = false;
    this.state = CIRCUIT_CLOSED;
  }

  onFailure(): void {
    this.probeInFlight = false;
    this.consecutiveFailures += 1;
    if (this.state === CIRCUIT_HALF_OPEN || this.consecutiveFailures >= this.failureThreshold) {
      this.state = CIRCUIT_OPEN;
      this.openedAt = this.now();
    }
  }

  /** The admitted request ended without a verdict (client went away). */
  onAbandon(): void {
    this.probeInFlight = false;
  }
}
