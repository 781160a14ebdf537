import type { z } from 'zod';
import type { FieldProblem } from './errors';
import { ValidationError } from './errors';

export function issuesToProblems(issues: readonly z.core.$ZodIssue[]): FieldProblem[] {
  return issues.map((issue) => ({ field: issue.path.length ? issue.path.join('.') : '(body)', message: issue.message }));
}

/** Parses `input` with `schema`, or throws a ValidationError naming every bad field. */
export function validate<Schema extends z.ZodType>(schema: Schema, input: unknown): z.output<Schema> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(issuesToProblems(result.error.issues));
  return result.data;
}
