// Example MCP server over streamable HTTP with stateful sessions: fake weather tools, many extra
// tools for pagination tests, the shared test-oriented tools, and echo_headers to show what reached
// the upstream. Run: node examples/weather-http/server.ts [--port N]
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { registerTestTools } from '../shared/test-tools.ts';
import { runExampleServer, sendJsonRpcError, sendWebResponse, toWebRequest } from '../shared/http.ts';
import { ToolPages } from './tool-pages.ts';
import { alerts, convertTemperature, forecast, stationReading } from './weather-data.ts';

export interface WeatherConfig {
  /** How many `station_<i>` tools to add (env WEATHER_EXTRA_TOOLS). */
  extraTools: number;
  /** tools/list page size (env WEATHER_PAGE_SIZE). */
  pageSize: number;
}

function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${raw}`);
  return value;
}

const unit = z.enum(['C', 'F', 'K']);

/** Builds one server instance; the HTTP front creates one per session. */
export function createWeatherServer(config: WeatherConfig): McpServer {
  const mcp = new McpServer(
    { name: 'weather-http', version: '1.0.0' },
    { capabilities: { logging: {} }, instructions: 'Fake, deterministic weather data for tests and demos.' },
  );
  const pages = new ToolPages(config.pageSize);

  pages.add(
    'get_forecast',
    mcp.registerTool(
      'get_forecast',
      {
        title: 'Weather forecast',
        description: 'Daily forecast for a city (fake but deterministic).',
        inputSchema: z.object({
          city: z.string().min(1).describe('City name, e.g. "Lisbon"'),
          days: z.number().int().min(1).max(7).default(3).describe('Number of days, 1–7'),
        }),
        outputSchema: z.object({
          city: z.string(),
          days: z.array(
            z.object({
              day: z.number(),
              condition: z.string(),
              highC: z.number(),
              lowC: z.number(),
              precipitationChance: z.number(),
            }),
          ),
        }),
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      function getForecast({ city, days }) {
        const daily = forecast(city, days);
        const lines = daily.map(
          (d) => `Day ${d.day}: ${d.condition}, ${d.lowC}–${d.highC} °C, ${d.precipitationChance}% chance of rain`,
        );
        return {
          content: [{ type: 'text', text: `Forecast for ${city}:\n${lines.join('\n')}` }],
          structuredContent: { city, days: daily },
        };
      },
    ),
  );

  pages.add(
    'get_alerts',
    mcp.registerTool(
      'get_alerts',
      {
        title: 'Weather alerts',
        description: 'Active weather alerts for a region (fake but deterministic).',
        inputSchema: z.object({ region: z.string().min(1).describe('Region or state, e.g. "CA"') }),
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      function getAlerts({ region }) {
        const active = alerts(region);
        const summary =
          active.length === 0
            ? `No active alerts for ${region}.`
            : active.map((a) => `${a.event} (${a.severity}): ${a.text}`).join('\n');
        return { content: [{ type: 'text', text: summary }], structuredContent: { region, alerts: active } };
      },
    ),
  );

  pages.add(
    'convert_temperature',
    mcp.registerTool(
      'convert_temperature',
      {
        title: 'Convert temperature',
        description: 'Converts a temperature between Celsius (C), Fahrenheit (F) and Kelvin (K).',
        inputSchema: z.object({ value: z.number(), from: unit, to: unit }),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      function convert({ value, from, to }) {
        const result = convertTemperature(value, from, to);
        return {
          content: [{ type: 'text', text: `${value} °${from} = ${result} °${to}` }],
          structuredContent: { value: result, unit: to },
        };
      },
    ),
  );

  pages.add(
    'echo_headers',
    mcp.registerTool(
      'echo_headers',
      {
        title: 'Echo request headers',
        description: 'Returns the HTTP request headers this server received with the call.',
        annotations: { readOnlyHint: true },
      },
      function echoHeaders(ctx) {
        const headers = Object.fromEntries(ctx.http?.req?.headers ?? []);
        return { content: [{ type: 'text', text: JSON.stringify(headers) }], structuredContent: { headers } };
      },
    ),
  );

  for (let station = 1; station <= config.extraTools; station++) {
    pages.add(
      `station_${station}`,
      mcp.registerTool(
        `station_${station}`,
        {
          description: `Current reading of weather station ${station}.`,
          annotations: { readOnlyHint: true },
        },
        function readStation() {
          const reading = stationReading(station);
          return { content: [{ type: 'text', text: JSON.stringify(reading) }], structuredContent: { ...reading } };
        },
      ),
    );
  }

  registerTestTools(mcp, { onRegistered: (name, tool) => pages.add(name, tool) });
  pages.install(mcp.server);
  return mcp;
}

/** Routes HTTP requests to per-session transports; an `initialize` POST without a session opens one. */
function createSessionRouter(config: WeatherConfig) {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();

  async function openSession(request: Request): Promise<Response> {
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
      onsessionclosed: (id) => void sessions.delete(id),
    });
    const mcp = createWeatherServer(config);
    await mcp.connect(transport);
    const response = await transport.handleRequest(request);
    // Anything but a successful initialize leaves no session behind.
    if (transport.sessionId === undefined) await mcp.close();
    return response;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, baseUrl: string): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    if (url.pathname !== '/mcp') {
      sendJsonRpcError(res, 404, -32601, 'Not found: the MCP endpoint is /mcp');
      return;
    }
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const transport = sessions.get(sessionId);
      if (transport === undefined) {
        sendJsonRpcError(res, 404, -32001, 'Session not found');
        return;
      }
      await sendWebResponse(res, await transport.handleRequest(toWebRequest(req, baseUrl)));
      return;
    }
    if (req.method !== 'POST') {
      sendJsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    await sendWebResponse(res, await openSession(toWebRequest(req, baseUrl)));
  }

  async function closeAll(): Promise<void> {
    const open = [...sessions.values()];
    sessions.clear();
    await Promise.allSettled(open.map((transport) => transport.close()));
  }

  return { handle, closeAll };
}

if (import.meta.main) {
  const config: WeatherConfig = {
    extraTools: intFromEnv('WEATHER_EXTRA_TOOLS', 0, 0),
    pageSize: intFromEnv('WEATHER_PAGE_SIZE', 50, 1),
  };
  const router = createSessionRouter(config);
  await runExampleServer({ path: '/mcp', handler: router.handle, onShutdown: router.closeAll });
}
