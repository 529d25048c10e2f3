/** Light shapes of MCP definitions as the catalog keeps them: what routing needs is typed, the rest passes through. */
import type { JsonObject } from '../core/jsonrpc.ts';

export interface ToolDef extends JsonObject {
  name: string;
  description?: string;
  inputSchema: JsonObject;
  annotations?: JsonObject;
}

export interface PromptDef extends JsonObject {
  name: string;
}

export interface ResourceDef extends JsonObject {
  uri: string;
  name: string;
}

export interface ResourceTemplateDef extends JsonObject {
  uriTemplate: string;
  name: string;
}

export type ListKind = 'tools' | 'resources' | 'resourceTemplates' | 'prompts';
