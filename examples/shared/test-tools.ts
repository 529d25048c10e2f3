// Test-oriented tools shared by the example servers: progress, cancellation, sampling, elicitation,
// roots and a runtime tool-list change. They exist so the gateway's integration tests can drive every
// server-to-client feature of MCP through a real upstream.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallToolResult, McpServer, RegisteredTool, ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';

/** Names of the tools {@link registerTestTools} can add. */
export type TestToolName = 'slow_count' | 'ask_llm' | 'confirm_action' | 'list_roots' | 'enable_extra_tool';

export const ALL_TEST_TOOLS: readonly TestToolName[] = [
  'slow_count',
  'ask_llm',
  'confirm_action',
  'list_roots',
  'enable_extra_tool',
];

export interface TestToolOptions {
  /** Which tools to register; all of them by default. */
  include?: readonly TestToolName[];
  /**
   * Told about every tool registered here, including `extra_tool` when it appears at runtime.
   * A server that answers `tools/list` itself (weather-http paginates) keeps its listing complete this way.
   */
  onRegistered?: (name: string, tool: RegisteredTool) => void;
}

function text(value: string): CallToolResult['content'] {
  return [{ type: 'text', text: value }];
}

/**
 * Registers the test-oriented tools on `mcp`.
 *
 * Requests to the client go through `ctx.mcpReq.send`, which ties them to the tool call
 * (`relatedRequestId`): on streamable HTTP they then travel on the call's own SSE stream instead of
 * the standalone GET stream. `ctx.mcpReq.requestSampling`/`elicitInput` do not set that id.
 */
export function registerTestTools(mcp: McpServer, options: TestToolOptions = {}): void {
  const include = new Set(options.include ?? ALL_TEST_TOOLS);
  const track = (name: string, tool: RegisteredTool): void => options.onRegistered?.(name, tool);

  if (include.has('slow_count')) {
    track(
      'slow_count',
      mcp.registerTool(
        'slow_count',
        {
          title: 'Slow counter',
          description:
            'Counts from 1 to `count`, waiting `delayMs` between steps. Sends a progress notification per step when ' +
            'the caller gives a progressToken, and stops early when the call is cancelled.',
          inputSchema: z.object({
            count: z.number().int().min(1).max(10_000).describe('How far to count'),
            delayMs: z.number().int().min(0).max(60_000).default(100).describe('Pause between steps, in milliseconds'),
          }),
        },
        async function slowCount({ count, delayMs }, ctx) {
          const reached = await countSlowly(count, delayMs, ctx);
          const cancelled = reached < count;
          if (cancelled) {
            // The SDK drops a cancelled request's result, so say how far we got out of band: the
            // gateway's tests read this log line to prove that the cancellation reached the upstream.
            await mcp.server
              .sendLoggingMessage(
                { level: 'notice', logger: 'slow_count', data: `slow_count cancelled after ${reached} of ${count}` },
                ctx.sessionId,
              )
              .catch(() => {});
          }
          return {
            content: text(cancelled ? `cancelled after ${reached} of ${count}` : `counted to ${count}`),
            structuredContent: { reached, count, cancelled },
          };
        },
      ),
    );
  }

  if (include.has('ask_llm')) {
    track(
      'ask_llm',
      mcp.registerTool(
        'ask_llm',
        {
          title: 'Ask the client LLM',
          description: "Asks the client's model a question through sampling/createMessage and returns its text.",
          inputSchema: z.object({
            question: z.string().min(1).describe('The question for the model'),
            maxTokens: z.number().int().min(1).max(8192).default(256).describe('Upper bound on the answer length'),
          }),
        },
        async function askLlm({ question, maxTokens }, ctx) {
          const result = await ctx.mcpReq.send(
            {
              method: 'sampling/createMessage',
              params: {
                messages: [{ role: 'user', content: { type: 'text', text: question } }],
                systemPrompt: 'You are a helpful assistant. Answer briefly.',
                maxTokens,
              },
            },
            { signal: ctx.mcpReq.signal },
          );
          const blocks = Array.isArray(result.content) ? result.content : [result.content];
          const answer = blocks.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n');
          return { content: text(answer), structuredContent: { model: result.model, answer } };
        },
      ),
    );
  }

  if (include.has('confirm_action')) {
    track(
      'confirm_action',
      mcp.registerTool(
        'confirm_action',
        {
          title: 'Confirm an action',
          description: 'Asks the user to confirm an action through a form-mode elicitation/create request.',
          inputSchema: z.object({ action: z.string().min(1).describe('What the user is asked to confirm') }),
        },
        async function confirmAction({ action }, ctx) {
          const result = await ctx.mcpReq.send(
            {
              method: 'elicitation/create',
              params: {
                mode: 'form',
                message: `Do you want to ${action}?`,
                requestedSchema: {
                  type: 'object',
                  properties: { confirm: { type: 'boolean', title: 'Confirm', description: `Allow: ${action}` } },
                  required: ['confirm'],
                },
              },
            },
            { signal: ctx.mcpReq.signal },
          );
          const confirmed = result.action === 'accept' && result.content?.confirm === true;
          return {
            content: text(`${result.action}: ${confirmed ? 'confirmed' : 'not confirmed'} (${action})`),
            structuredContent: { action: result.action, confirmed },
          };
        },
      ),
    );
  }

  if (include.has('list_roots')) {
    track(
      'list_roots',
      mcp.registerTool(
        'list_roots',
        { title: 'List client roots', description: 'Returns the roots the client exposes, via roots/list.' },
        async function listRoots(ctx) {
          const { roots } = await ctx.mcpReq.send({ method: 'roots/list' }, { signal: ctx.mcpReq.signal });
          return { content: text(JSON.stringify(roots)), structuredContent: { roots } };
        },
      ),
    );
  }

  if (include.has('enable_extra_tool')) {
    let extra: RegisteredTool | undefined;
    track(
      'enable_extra_tool',
      mcp.registerTool(
        'enable_extra_tool',
        {
          title: 'Enable extra_tool',
          description: 'Registers the tool `extra_tool` at runtime, so the server sends notifications/tools/list_changed.',
        },
        function enableExtraTool() {
          if (extra !== undefined) return { content: text('extra_tool was already enabled') };
          // registerTool on a connected server sends notifications/tools/list_changed by itself.
          extra = mcp.registerTool(
            'extra_tool',
            { title: 'Extra tool', description: 'Appears after enable_extra_tool; says hello.' },
            () => ({ content: text('hello from extra_tool') }),
          );
          track('extra_tool', extra);
          return { content: text('extra_tool enabled') };
        },
      ),
    );
  }
}

/** Counts with progress; returns how far it got (less than `count` when the call was cancelled). */
async function countSlowly(count: number, delayMs: number, ctx: ServerContext): Promise<number> {
  const { signal } = ctx.mcpReq;
  const progressToken = ctx.mcpReq._meta?.progressToken;
  let reached = 0;
  for (let step = 1; step <= count; step++) {
    try {
      await sleep(delayMs, undefined, { signal });
    } catch {
      break; // aborted while waiting
    }
    if (signal.aborted) break;
    reached = step;
    if (progressToken !== undefined) {
      await ctx.mcpReq.notify({
        method: 'notifications/progress',
        params: { progressToken, progress: step, total: count, message: `counted ${step} of ${count}` },
      });
    }
  }
  return reached;
}
