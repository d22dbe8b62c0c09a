'use strict';
// lambdalite's Node.js runtime client: loads the handler and serves invocations over the Lambda Runtime API.
//
// Built-in modules only (it runs on whatever node the host has, with no npm install). It behaves as AWS's
// Node.js runtimes do where a function can tell: how the handler is found (CommonJS or ES module), async
// and callback handlers, `context`, error objects, init errors and console lines.

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { pathToFileURL } = require('node:url');

const API_PREFIX = '/2018-06-01/runtime';
const [API_HOST, API_PORT] = splitAddress(process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');
// One keep-alive socket; the agent unrefs it while idle, so a handler's empty event loop is visible.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function splitAddress(address) {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

function faultClass(name) {
  const Fault = class extends Error {};
  Object.defineProperty(Fault.prototype, 'name', { value: name, writable: true, configurable: true });
  return Fault;
}

const ImportModuleError = faultClass('Runtime.ImportModuleError');
const HandlerNotFound = faultClass('Runtime.HandlerNotFound');
const MalformedHandlerName = faultClass('Runtime.MalformedHandlerName');
const UserCodeSyntaxError = faultClass('Runtime.UserCodeSyntaxError');
const UnhandledPromiseRejection = faultClass('Runtime.UnhandledPromiseRejection');

// ---- the Runtime API ---------------------------------------------------------------------------------
function call(method, urlPath, body, headers) {
  return new Promise((resolve) => {
    const data = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
    const request = http.request({
      host: API_HOST, port: API_PORT, method, path: API_PREFIX + urlPath, agent,
      headers: { ...headers, 'Content-Length': data.length },
    }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({
        status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString('utf8'),
      }));
      response.on('error', lambdaliteGone);
    });
    request.on('error', lambdaliteGone);
    request.end(data);
  });
}

function lambdaliteGone() {
  process.exit(0); // the Runtime API is gone: lambdalite stopped. Never outlive it.
}

function postJson(urlPath, text, errorType) {
  const headers = { 'Content-Type': 'application/json' };
  if (errorType) headers['Lambda-Runtime-Function-Error-Type'] = String(errorType).replace(/[\r\n]/g, '');
  return call('POST', urlPath, text, headers);
}

// ---- console, as AWS prints it: `TIME\tREQUEST_ID\tLEVEL\tmessage`, one line per call ------------------
let currentRequestId; // undefined during init, as AWS prints it

function logLine(level, args) {
  const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE', fatal: 'FATAL' };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...args) => logLine(level, args);
  }
}

// ---- errors in AWS's shape -----------------------------------------------------------------------------
function errorBody(error) {
  try {
    if (error instanceof Error || (error && typeof error === 'object' && typeof error.message === 'string')) {
      return {
        errorType: error.name || 'Error',
        errorMessage: String(error.message),
        trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
      trace: [],
    };
  }
}

function logError(label, body) {
  logLine('ERROR', [`${label} \t${JSON.stringify({ errorType: body.errorType, errorMessage: body.errorMessage, stack: body.trace })}`]);
}

// ---- loading the handler -------------------------------------------------------------------------------
function isFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch (_) {
    return false;
  }
}

function packageTypeIsModule(file) {
  let dir = path.dirname(file);
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (isFile(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8')).type === 'module';
      } catch (_) {
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

async function importFile(file) {
  return import(pathToFileURL(file).href);
}

// The order AWS's runtime tries: extensionless, .js (CommonJS unless package.json says "module"), .mjs, .cjs.
async function loadModule(base, moduleName) {
  if (isFile(base)) return require(base);
  const esm = packageTypeIsModule(base);
  if (isFile(base + '.js')) return esm ? importFile(base + '.js') : require(base + '.js');
  if (isFile(base + '.mjs')) return importFile(base + '.mjs');
  if (isFile(base + '.cjs')) return require(base + '.cjs');
  throw new ImportModuleError(`Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${__filename}`);
}

async function loadHandler(taskRoot, handlerString) {
  const slash = handlerString.lastIndexOf('/');
  const moduleRoot = handlerString.slice(0, slash + 1);
  const moduleAndHandler = handlerString.slice(slash + 1);
  const dot = moduleAndHandler.indexOf('.');
  if (dot <= 0 || dot === moduleAndHandler.length - 1) throw new MalformedHandlerName('Bad handler');
  const moduleName = moduleAndHandler.slice(0, dot);
  let loaded;
  try {
    loaded = await loadModule(path.resolve(taskRoot, moduleRoot, moduleName), moduleName);
  } catch (error) {
    if (error instanceof ImportModuleError) throw error;
    if (error && (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new ImportModuleError(String(error));
    }
    if (error instanceof SyntaxError) throw new UserCodeSyntaxError(String(error));
    throw error;
  }
  let handler = loaded;
  for (const key of moduleAndHandler.slice(dot + 1).split('.')) {
    handler = handler === undefined || handler === null ? undefined : handler[key];
  }
  if (handler === undefined || handler === null) {
    throw new HandlerNotFound(`${handlerString} is undefined or not exported`);
  }
  if (typeof handler !== 'function') throw new HandlerNotFound(`${handlerString} is not a function`);
  return handler;
}

// ---- one invocation -------------------------------------------------------------------------------------
function parseHeaderJson(text) {
  return text ? JSON.parse(text) : undefined;
}

function makeContext(headers, requestId) {
  const deadlineMs = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const env = process.env;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(deadlineMs - Date.now(), 0),
  };
  const clientContext = parseHeaderJson(headers['lambda-runtime-client-context']);
  if (clientContext !== undefined) context.clientContext = clientContext;
  const identity = parseHeaderJson(headers['lambda-runtime-cognito-identity']);
  if (identity !== undefined) context.identity = identity;
  return context;
}

// Resolves {result} or {error}. A promise settles it; otherwise the callback does, once the event loop is
// empty while context.callbackWaitsForEmptyEventLoop is true (AWS's default); a handler that neither
// returns a promise nor calls back finishes with null when the event loop empties.
function runHandler(handler, event, context) {
  return new Promise((resolve) => {
    let settled = false;
    let calledBack;
    const onEmptyLoop = () => finish(calledBack || { result: undefined });
    const finish = (outcome) => {
      if (settled) return;
      settled = true;
      process.removeListener('beforeExit', onEmptyLoop);
      resolve(outcome);
    };
    const callback = (error, result) => {
      if (calledBack || settled) return;
      calledBack = error !== undefined && error !== null ? { error } : { result };
      if (!context.callbackWaitsForEmptyEventLoop) finish(calledBack);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (error) => callback(error === undefined || error === null ? 'handled' : error);
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (error) {
      finish({ error });
      return;
    }
    if (returned && typeof returned.then === 'function') {
      returned.then((result) => finish({ result }), (error) => finish({ error }));
    } else {
      process.on('beforeExit', onEmptyLoop);
    }
  });
}

let inFlight; // {requestId, answered}: where an uncaught error is reported

async function invoke(handler, headers, body) {
  const requestId = headers['lambda-runtime-aws-request-id'] || '';
  currentRequestId = requestId;
  const traceId = headers['lambda-runtime-trace-id'];
  if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
  else delete process.env._X_AMZN_TRACE_ID;
  const current = { requestId, answered: false };
  inFlight = current;
  let outcome;
  try {
    const event = body ? JSON.parse(body) : {};
    outcome = await runHandler(handler, event, makeContext(headers, requestId));
  } catch (error) {
    outcome = { error };
  }
  let text;
  if (!('error' in outcome)) {
    try {
      text = JSON.stringify(outcome.result === undefined ? null : outcome.result);
    } catch (error) {
      outcome = { error };
    }
  }
  if (current.answered) return;
  current.answered = true;
  if ('error' in outcome) {
    const error = errorBody(outcome.error);
    logError('Invoke Error', error);
    await postJson(`/invocation/${requestId}/error`, JSON.stringify(error), error.errorType);
  } else {
    await postJson(`/invocation/${requestId}/response`, text === undefined ? 'null' : text);
  }
}

// An error nobody catches (a throw in a timer, a rejection nobody awaits) fails the current invocation and
// ends the process, as on AWS.
async function uncaught(label, error) {
  const body = errorBody(error);
  logError(label, body);
  const current = inFlight;
  if (current && !current.answered) {
    current.answered = true;
    await postJson(`/invocation/${current.requestId}/error`, JSON.stringify(body), body.errorType);
  } else if (!current) {
    await postJson('/init/error', JSON.stringify(body), body.errorType);
  }
  process.exit(129);
}

async function main() {
  patchConsole();
  process.on('uncaughtException', (error) => uncaught('Uncaught Exception', error));
  process.on('unhandledRejection', (reason) => {
    uncaught('Unhandled Promise Rejection', new UnhandledPromiseRejection(String(reason)));
  });
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER || '');
  } catch (error) {
    const body = errorBody(error);
    logError('Uncaught Exception', body);
    await postJson('/init/error', JSON.stringify(body), body.errorType);
    process.exit(129);
  }
  for (;;) {
    const next = await call('GET', '/invocation/next');
    if (next.status !== 200) process.exit(1);
    await invoke(handler, next.headers, next.body);
  }
}

main();
