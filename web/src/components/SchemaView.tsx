/** A tool's parameters from its JSON Schema: each property with its type, whether required, enum, default, description; nested objects and arrays indented. */
import type { JsonSchema } from '../lib/schema.ts';
import { constraints, describeType, itemsOf, propertiesOf, typesOf } from '../lib/schema.ts';

const MAX_DEPTH = 8;

function Properties({ schema, root, depth }: { schema: JsonSchema; root: JsonSchema; depth: number }) {
  const props = propertiesOf(schema, root);
  if (props.length === 0) return null;
  return (
    <ul class="schema-props">
      {props.map((p) => (
        <Property key={p.name} name={p.name} schema={p.schema} required={p.required} root={root} depth={depth} />
      ))}
    </ul>
  );
}

function Property({ name, schema, required, root, depth }: { name: string; schema: JsonSchema; required: boolean; root: JsonSchema; depth: number }) {
  const rules = constraints(schema);
  const items = itemsOf(schema, root);
  const nested = depth < MAX_DEPTH && typesOf(schema).includes('object') ? schema : items !== undefined && depth < MAX_DEPTH && typesOf(items).includes('object') ? items : undefined;
  return (
    <li>
      <div class="schema-line">
        <code class="prop-name">{name}</code>
        <span class="prop-type">{describeType(schema, root)}</span>
        {required ? <span class="badge bad-outline">required</span> : <span class="muted small">optional</span>}
        {schema.default !== undefined && (
          <span class="small">
            default <code>{JSON.stringify(schema.default)}</code>
          </span>
        )}
        {rules.length > 0 && <span class="muted small">{rules.join(', ')}</span>}
      </div>
      {schema.description !== undefined && <p class="prop-desc">{schema.description}</p>}
      {schema.examples !== undefined && schema.examples.length > 0 && (
        <p class="prop-desc small">
          e.g. {schema.examples.slice(0, 3).map((e, i) => <code key={i}>{JSON.stringify(e)}</code>)}
        </p>
      )}
      {nested !== undefined && (
        <>
          {nested === items && <p class="muted small">each item:</p>}
          <Properties schema={nested} root={root} depth={depth + 1} />
        </>
      )}
    </li>
  );
}

export function SchemaView({ schema, empty = 'No parameters.' }: { schema: JsonSchema; empty?: string }) {
  const props = propertiesOf(schema, schema);
  if (props.length === 0) {
    const type = describeType(schema, schema);
    return <p class="muted">{type === 'object' || type === 'any' ? empty : `Type: ${type}`}</p>;
  }
  return <Properties schema={schema} root={schema} depth={0} />;
}
