/**
 * The one error base of strangler-fig. Every component's errors extend it: a stable `code` (one of that component's
 * catalogue, so an unknown code fails the typecheck), whether a retry may help, the underlying cause, and `name` =
 * the class's name. docs/errors.md lists every code with what to do (`npm run docs:errors`).
 */
export class StranglerError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly retriable: boolean;

  constructor(code: Code, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** One entry of an error catalogue: what the code means, and what the user should do about it. */
export interface ErrorCodeInfo {
  readonly means: string;
  readonly fix: string;
}

/** A component's codes (`SFG_<COMPONENT>_<PROBLEM>`), each with its meaning and remedy; declare it `as const satisfies ErrorCatalogue`. */
export type ErrorCatalogue = Readonly<Record<`SFG_${string}`, ErrorCodeInfo>>;

/** A component's catalogue as its users see it: one entry per code of `Code`. */
export type ErrorCatalogueOf<Code extends string> = Readonly<Record<Code, ErrorCodeInfo>>;
