/**
 * The Standard Schema V1 interface (https://standardschema.dev), declared here rather than
 * imported: it is a types-only spec that zod, valibot and arktype all implement, so any of
 * them can validate what clients publish on a channel.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaProps<Input, Output>;
}

export interface StandardSchemaProps<Input = unknown, Output = Input> {
  readonly version: 1;
  readonly vendor: string;
  readonly validate: (
    value: unknown,
  ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
  readonly types?: { readonly input: Input; readonly output: Output } | undefined;
}

export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardSchemaIssue[] };

export interface StandardSchemaIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

export type SchemaCheck = { ok: true; value: unknown } | { ok: false; message: string };

/** How many issues a validation error message lists (the rest are counted). */
const LISTED_ISSUES = 3;

/**
 * Runs a schema and condenses failures into one short message (`path: message; ...`), so
 * an error reply never echoes a large input back. The output value is what gets published:
 * schemas may transform or fill defaults.
 */
export async function checkSchema(schema: StandardSchemaV1, value: unknown): Promise<SchemaCheck> {
  const result = await schema['~standard'].validate(value);
  if (result.issues === undefined) return { ok: true, value: result.value };
  const listed = result.issues.slice(0, LISTED_ISSUES).map((issue) => {
    const path = (issue.path ?? [])
      .map((segment) => String(typeof segment === 'object' ? segment.key : segment))
      .join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const more = result.issues.length - listed.length;
  return { ok: false, message: listed.join('; ') + (more > 0 ? ` (+${more} more)` : '') };
}
