import type { z } from 'zod';
import type { FieldProblem } from './errors';
import { ValidationError } from './errors';

/** One problem per field; an unknown key is named as the field itself. */
export function issuesToProblems(issues: readonly z.core.$ZodIssue[]): FieldProblem[] {
  const fieldOf = (path: readonly PropertyKey[]) => (path.length ? path.map(String).join('.') : '(body)');
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: fieldOf([...issue.path, key]), message: 'unknown key' }))
      : [{ field: fieldOf(issue.path), message: issue.message }],
  );
}

/** Parses `input` with `schema`, or throws a ValidationError naming every bad field. */
export function validate<Schema extends z.ZodType>(schema: Schema, input: unknown): z.output<Schema> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(issuesToProblems(result.error.issues));
  return result.data;
}
