/**
 * The admin API's OpenAPI 3.1 document (`GET /admin/openapi.json`). The upstream and virtual-server definitions
 * are the config schema itself, converted to JSON Schema, so the document cannot drift from what the API accepts.
 */
import { z } from 'zod';
import { upstreamSchema, virtualServerSchema } from '../config/schema.ts';

type Json = Record<string, unknown>;

let cached: Json | null = null;

function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);
const ERRORS = {
  401: error('No credentials (WWW-Authenticate names the protected-resource metadata), or auth is off'),
  403: error('Authenticated, but not an admin (admin.scopes / admin.groups)'),
};
const nameParam = (what: string) => ({ name: 'name', in: 'path', required: true, description: `The ${what}'s name`, schema: { type: 'string' } });
const idParam = (what: string) => ({ name: 'id', in: 'path', required: true, description: `The ${what}'s id`, schema: { type: 'string' } });
const query = (name: string, description: string, schema: Json = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });

function entryPaths(plural: string, schema: string, what: string): Record<string, Json> {
  const tag = plural === 'upstreams' ? 'Upstreams' : 'Virtual servers';
  return {
    [`/admin/${plural}`]: {
      get: { tags: [tag], summary: `List ${what}s (from the config file and the admin API)`, responses: { 200: json({ type: 'object', properties: { [plural === 'upstreams' ? 'upstreams' : 'virtualServers']: { type: 'array', items: ref(`${schema}Entry`) } } }), ...ERRORS } },
    },
    [`/admin/${plural}/{name}`]: {
      parameters: [nameParam(what)],
      get: { tags: [tag], summary: `One ${what}`, responses: { 200: json(ref(`${schema}Entry`)), ...ERRORS, 404: error(`No such ${what}`) } },
      put: {
        tags: [tag],
        summary: `Create or replace a ${what}: validated like the config file, kept in the store, applied live`,
        description: 'Answered once the change is live. Masked secrets ("[redacted]") sent back keep their stored values.',
        requestBody: { required: true, content: { 'application/json': { schema: ref(schema) } } },
        responses: { 200: json(ref(`${schema}Entry`), 'Replaced'), 201: json(ref(`${schema}Entry`), 'Created'), 400: error('Invalid definition: error.fields names each field'), ...ERRORS },
      },
      delete: { tags: [tag], summary: `Delete a ${what} (one the file defines stays deleted)`, responses: { 204: { description: 'Deleted' }, 400: error('Something still refers to it'), ...ERRORS, 404: error(`No such ${what}`) } },
    },
  };
}

export function adminOpenApi(): Json {
  cached ??= {
    openapi: '3.1.0',
    info: { title: 'Gatehouse admin API', version: '1', description: 'Manage the gateway: upstreams, virtual servers, approvals of changed tool definitions, API keys, the audit log. Every route but this document needs an admin.' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { apiKey: [] }],
    tags: [{ name: 'Upstreams' }, { name: 'Virtual servers' }, { name: 'Approvals' }, { name: 'API keys' }, { name: 'Audit' }, { name: 'Status' }],
    paths: {
      ...entryPaths('upstreams', 'Upstream', 'upstream'),
      ...entryPaths('virtual-servers', 'VirtualServer', 'virtual server'),
      '/admin/approvals': {
        get: {
          tags: ['Approvals'],
          summary: 'Quarantined definitions waiting for an admin',
          parameters: [query('upstream', 'Only this upstream\'s'), query('all', 'Include rejected ones', { type: 'boolean' })],
          responses: { 200: json({ type: 'object', properties: { approvals: { type: 'array', items: ref('Approval') } } }), 400: error('Bad query parameter'), ...ERRORS, 409: error('Pinning is off') },
        },
      },
      '/admin/approvals/{id}': {
        parameters: [idParam('approval')],
        get: { tags: ['Approvals'], summary: 'One approval with the approved and pending definitions and their diff', responses: { 200: json(ref('ApprovalDetail')), ...ERRORS, 404: error('No such approval') } },
      },
      '/admin/approvals/{id}/approve': {
        parameters: [idParam('approval')],
        post: { tags: ['Approvals'], summary: 'Pin the pending definition: it is listed and callable again', responses: { 200: json({ type: 'object' }), ...ERRORS, 404: error('No such approval') } },
      },
      '/admin/approvals/{id}/reject': {
        parameters: [idParam('approval')],
        post: { tags: ['Approvals'], summary: 'Keep it quarantined', responses: { 200: json({ type: 'object' }), ...ERRORS, 404: error('No such approval') } },
      },
      '/admin/keys': {
        get: { tags: ['API keys'], summary: 'Every API key (never the secret)', responses: { 200: json({ type: 'object', properties: { keys: { type: 'array', items: ref('ApiKey') } } }), ...ERRORS, 409: error('Auth is off') } },
        post: {
          tags: ['API keys'],
          summary: 'Issue a key: the answer is the only time it is shown',
          requestBody: { required: true, content: { 'application/json': { schema: ref('NewApiKey') } } },
          responses: { 201: json({ allOf: [ref('ApiKey'), { type: 'object', required: ['key'], properties: { key: { type: 'string', description: 'gh_<id>_<secret>' } } }] }, 'Created'), 400: error('Invalid body'), ...ERRORS, 409: error('Auth is off') },
        },
      },
      '/admin/keys/{id}': {
        parameters: [idParam('API key')],
        delete: { tags: ['API keys'], summary: 'Revoke a key (it stops working within 5 s on every replica)', responses: { 200: json(ref('ApiKey')), ...ERRORS, 404: error('No such key') } },
      },
      '/admin/audit': {
        get: {
          tags: ['Audit'],
          summary: 'Audit records, oldest first (the most recent `limit` that match)',
          parameters: [
            query('since', 'A duration ago (1h, 7d) or an ISO date'), query('until', 'A duration ago or an ISO date'), query('principal', 'Principal id'),
            query('tool', 'Target (tool name as listed)'), query('upstream', 'Upstream'), query('outcome', 'ok, error or denied', { enum: ['ok', 'error', 'denied'] }),
            query('limit', '1 to 10000, default 100', { type: 'integer', minimum: 1, maximum: 10000 }),
          ],
          responses: { 200: json({ type: 'object', properties: { records: { type: 'array', items: { type: 'object' } } } }), 400: error('Bad query parameter'), ...ERRORS, 409: error('The audit log is off') },
        },
      },
      '/admin/health': { get: { tags: ['Status'], summary: 'Readiness: each upstream and its replicas (breaker state, in flight, last error)', responses: { 200: json({ type: 'object' }), ...ERRORS } } },
      '/admin/stats': { get: { tags: ['Status'], summary: 'Sessions and pool statistics', responses: { 200: json({ type: 'object' }), ...ERRORS } } },
      '/admin/me': { get: { tags: ['Status'], summary: 'Who the caller is (an admin)', responses: { 200: json({ type: 'object' }), ...ERRORS } } },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An OAuth access token from a configured issuer, or an API key (gh_…)' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      },
      schemas: {
        Upstream: jsonSchema(upstreamSchema),
        VirtualServer: jsonSchema(virtualServerSchema),
        UpstreamEntry: entrySchema('Upstream', { status: { type: 'string' }, error: { type: 'string' }, replicas: { type: 'array', items: { type: 'object' } }, tools: { type: 'integer' } }),
        VirtualServerEntry: entrySchema('VirtualServer', { endpoint: { type: 'string' }, tools: { type: 'integer' } }),
        Approval: {
          type: 'object',
          properties: {
            id: { type: 'string' }, upstream: { type: 'string' }, kind: { enum: ['tools', 'prompts', 'resources', 'resourceTemplates'] }, key: { type: 'string' },
            reason: { enum: ['changed', 'new', 'flagged'] }, status: { enum: ['pending', 'rejected'] }, hash: { type: 'string' }, previousHash: { type: ['string', 'null'] },
            firstSeen: { type: 'string', format: 'date-time' }, rejectedAt: { type: ['string', 'null'] }, rejectedBy: { type: ['string', 'null'] }, findings: { type: 'array', items: { type: 'object' } },
          },
        },
        ApprovalDetail: {
          allOf: [ref('Approval'), {
            type: 'object',
            properties: { definition: {}, approved: { type: ['object', 'null'] }, before: { type: 'string' }, after: { type: 'string' }, diff: { type: 'string', description: 'unified diff, approved -> pending' } },
          }],
        },
        ApiKey: {
          type: 'object',
          properties: {
            id: { type: 'string' }, owner: { type: 'string' }, name: { type: ['string', 'null'] }, scopes: { type: 'array', items: { type: 'string' } }, groups: { type: 'array', items: { type: 'string' } },
            status: { enum: ['active', 'expired', 'revoked'] }, createdAt: { type: 'string' }, expiresAt: { type: ['string', 'null'] }, revokedAt: { type: ['string', 'null'] }, lastUsedAt: { type: ['string', 'null'] },
          },
        },
        NewApiKey: {
          type: 'object',
          required: ['owner'],
          additionalProperties: false,
          properties: {
            owner: { type: 'string', minLength: 1 }, name: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } }, groups: { type: 'array', items: { type: 'string' } },
            expires: { type: 'string', description: 'A duration (30d, 12h) or a future date (2027-01-31)' },
          },
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['message'],
              properties: {
                code: { type: 'string', description: 'A stable GH_ERR_… code (docs/errors.md)' }, message: { type: 'string' },
                fields: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
              },
            },
          },
        },
      },
    },
  };
  return cached;
}

function entrySchema(definition: string, extra: Json): Json {
  return {
    type: 'object',
    properties: {
      name: { type: 'string' },
      source: { enum: ['file', 'admin'], description: 'Where the definition comes from' },
      updatedBy: { type: 'string' },
      updatedAt: { type: 'string', format: 'date-time' },
      overridesFile: { type: 'boolean' },
      definition: ref(definition),
      ...extra,
    },
  };
}
