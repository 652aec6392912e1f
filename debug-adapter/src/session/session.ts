// The DAP session: translates Debug Adapter Protocol requests into calls on the run-control
// Target and the Inspector, and Target events into DAP events. It holds no debugger logic of its
// own beyond configuration order; breakpoint decisions and the source-level stack (inlined
// frames, frame ids) belong to the runtime.

import { formatAddress, wrapAddress } from '../../../qemu-bridge/src/address';
import * as fs from 'fs';
import * as path from 'path';
import {
  Breakpoint, DebugSession, ExitedEvent, InitializedEvent, OutputEvent, Scope, Source, StackFrame, StoppedEvent,
  TerminatedEvent, Thread,
} from '@vscode/debugadapter';
import { DebugProtocol } from '@vscode/debugprotocol';
import { KernelNotFoundError } from '../../../qemu-bridge/src';
import { DebugSymbols } from '../symbols';
import { Inspector } from '../inspect';
import type { FrameContext, InspectScope, InspectVariable } from '../inspect/target-access';
import { dataId, parseAddress, ResolvedBreakpoint } from './breakpoint-table';
import { KernelFormatError, messageOf, noDebugInfoWarning } from './errors';
import { describeBoot, validateAttach, validateLaunch } from './launch-arguments';
import { ProgressReporter } from './progress';
import { EXTENSION_REFERENCE_BASE, ExceptionFilter, SessionExtension, SessionExtensionFactory } from './session-extension';
import { Target, TargetExit, TargetStop } from './target';
import { DapRequest } from '../../../contract/dap';

/** `{ threadId }`: the user looks at another vCPU now (VS Code's focused thread); the memory views follow it. */
export const SELECT_THREAD_REQUEST = DapRequest.selectThread;

/** Error ids in DAP error responses. */
const ERROR_ID = 4000;

export class MmscopeSession extends DebugSession {
  private target: Target | undefined;
  private inspector: Inspector | undefined;
  private symbols: DebugSymbols | undefined;
  private stopOnEntry = false;
  /** The launch/attach arguments, for the extensions (a memory-model description, its folder). */
  private startArguments: Readonly<Record<string, unknown>> | undefined;
  private configurationDone!: Promise<void>;
  private markConfigurationDone!: () => void;
  private evaluateNames = new Map<string, string>();
  private extensions: SessionExtension[] = [];
  private ended = false;
  private readonly progress = new ProgressReporter((e) => this.sendEvent(e));

  /** The exception of the current stop, for the exceptionInfo request. */
  private lastException: { description: string; text?: string } | undefined;

  constructor(
    private readonly extensionFactories: readonly SessionExtensionFactory[] = [],
    private readonly exceptionFilters: readonly ExceptionFilter[] = [],
  ) {
    super();
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
    this.resetConfiguration();
  }

  private resetConfiguration(): void {
    this.configurationDone = new Promise((resolve) => (this.markConfigurationDone = resolve));
  }

  // ---- lifecycle ----

  protected override initializeRequest(response: DebugProtocol.InitializeResponse, args: DebugProtocol.InitializeRequestArguments): void {
    this.progress.enabled = args.supportsProgressReporting === true;
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsFunctionBreakpoints: true,
      supportsConditionalBreakpoints: true,
      supportsHitConditionalBreakpoints: true,
      supportsLogPoints: true,
      supportsDataBreakpoints: true,
      supportsInstructionBreakpoints: true,
      supportsSteppingGranularity: true,
      supportsEvaluateForHovers: true,
      supportsSetVariable: true,
      supportsReadMemoryRequest: true,
      supportsWriteMemoryRequest: true,
      supportsDisassembleRequest: true,
      supportsRestartRequest: true,
      supportsTerminateRequest: true,
      supportTerminateDebuggee: true,
      supportsValueFormattingOptions: false,
      supportsExceptionInfoRequest: true,
      exceptionBreakpointFilters: this.exceptionFilters.map((f) => ({ ...f })),
    };
    this.sendResponse(response);
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.markConfigurationDone();
    this.sendResponse(response);
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, args: DebugProtocol.LaunchRequestArguments): Promise<void> {
    try {
      const config = validateLaunch(args);
      this.startArguments = args as Readonly<Record<string, unknown>>;
      this.stopOnEntry = config.stopOnEntry;
      const endSymbols = this.progress.begin('Reading kernel symbols', path.basename(config.kernel));
      let symbols: DebugSymbols;
      try {
        symbols = this.loadSymbols(config.kernel);
      } catch (e) {
        endSymbols('failed');
        throw e;
      }
      const launching = this.progress.around('Starting QEMU', describeBoot(config.boot), () => Target.launch(config, symbols));
      // Read the DWARF while QEMU starts (it waits, paused, for us).
      if (symbols.hasDebugInfo) symbols.compileUnits.length;
      endSymbols();
      this.attachTarget(await launching);
      this.sendEvent(new InitializedEvent());
      await this.configurationDone;
      this.sendResponse(response);
      this.target?.start(this.stopOnEntry);
    } catch (e) {
      this.failStart(response, e);
    }
  }

  protected override async attachRequest(response: DebugProtocol.AttachResponse, args: DebugProtocol.AttachRequestArguments): Promise<void> {
    try {
      const config = validateAttach(args);
      this.startArguments = args as Readonly<Record<string, unknown>>;
      const symbols = await this.progress.around('Reading kernel symbols', path.basename(config.kernel), () => {
        const loaded = this.loadSymbols(config.kernel);
        if (loaded.hasDebugInfo) loaded.compileUnits.length;
        return loaded;
      });
      const target = await this.progress.around('Connecting to QEMU', `gdbstub ${config.gdb.host}:${config.gdb.port}`, () => Target.attach(config, symbols));
      this.attachTarget(target);
      this.sendEvent(new InitializedEvent());
      await this.configurationDone;
      this.sendResponse(response);
      // Connecting stopped the guest: show where.
      this.onStopped({ reason: 'pause', threadId: target.selectedThread, pc: 0, breakpoints: [], description: 'attached' });
    } catch (e) {
      this.failStart(response, e);
    }
  }

  private loadSymbols(kernel: string): DebugSymbols {
    if (!fs.existsSync(kernel) || !fs.statSync(kernel).isFile()) throw new KernelNotFoundError(kernel, 'build it first, or set "kernel" in launch.json to your kernel\'s ELF file');
    let symbols: DebugSymbols;
    try {
      symbols = new DebugSymbols(fs.readFileSync(kernel));
    } catch (e) {
      throw new KernelFormatError(kernel, messageOf(e).replace(/\.$/, ''));
    }
    if (!symbols.hasDebugInfo) this.sendEvent(new OutputEvent(noDebugInfoWarning(kernel) + '\n', 'important'));
    this.symbols = symbols;
    return symbols;
  }

  /** `0x` and 8 (i386) or 16 (x86-64) hex digits: an address as DAP references carry it. */
  private hexAddress(address: number): string {
    return formatAddress(address, this.target?.addressWidth ?? 32);
  }

  private attachTarget(target: Target): void {
    this.target = target;
    this.inspector = new Inspector(target.symbols, target);
    target.on('stopped', (stop) => this.onStopped(stop));
    target.on('output', (text) => this.sendEvent(new OutputEvent(text, 'stdout')));
    target.on('console', (line) => this.sendEvent(new OutputEvent(line + '\n', 'console')));
    target.on('exited', (exit) => this.onExited(exit));
    target.on('threadSelected', (thread) => {
      // Another vCPU's registers and address space: what was read for the last one may differ.
      this.inspector?.invalidate();
      for (const x of this.extensions) x.onThreadSelected?.(thread);
    });
    this.extensions = this.extensionFactories.map((f) => f(target, this.startArguments)).filter((x): x is SessionExtension => x !== undefined);
    for (const x of this.extensions) {
      const decide = x.decideInternalHit?.bind(x);
      if (decide) target.addInternalHitDecider(decide);
    }
  }

  private failStart(response: DebugProtocol.Response, error: unknown): void {
    const message = messageOf(error);
    this.sendErrorResponse(response, { id: ERROR_ID, format: message.replace(/\{/g, '(').replace(/\}/g, ')'), showUser: true });
    void this.target?.end({ terminateDebuggee: true });
    this.finish();
  }

  protected override async restartRequest(response: DebugProtocol.RestartResponse): Promise<void> {
    await this.respond(response, async () => {
      const target = this.requireTarget();
      this.beforeResume();
      await target.restart(this.stopOnEntry);
    });
  }

  protected override async terminateRequest(response: DebugProtocol.TerminateResponse): Promise<void> {
    await this.endTarget();
    this.sendResponse(response);
    this.finish();
  }

  protected override async disconnectRequest(response: DebugProtocol.DisconnectResponse): Promise<void> {
    await this.endTarget();
    this.sendResponse(response);
    this.finish();
    this.shutdown();
  }

  /** A QEMU we launched is shut down; an attached one is detached and keeps running. */
  private async endTarget(): Promise<void> {
    const target = this.target;
    if (!target) return;
    await target.end({ terminateDebuggee: target.launched }).catch(() => undefined);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.sendEvent(new TerminatedEvent());
  }

  private onExited(exit: TargetExit): void {
    this.sendEvent(new OutputEvent(exit.message + '\n', exit.unexpected ? 'stderr' : 'console'));
    if (exit.exitCode !== undefined) this.sendEvent(new ExitedEvent(exit.exitCode));
    this.finish();
  }

  // ---- stops ----

  private onStopped(stop: TargetStop): void {
    const internalOnly = stop.breakpoints.length > 0 && stop.breakpoints.every((b) => b.kind === 'internal');
    const exception = internalOnly ? stop.exception : undefined;
    const event = new StoppedEvent(exception ? 'exception' : stop.reason, stop.threadId, exception?.text ?? stop.text) as DebugProtocol.StoppedEvent;
    this.lastException = exception ?? (stop.reason === 'exception' && stop.description ? { description: stop.description, text: stop.text } : undefined);
    event.body.allThreadsStopped = true;
    if (exception) event.body.description = exception.description;
    else if (stop.description) event.body.description = stop.description;
    const visible = stop.breakpoints.filter((b) => b.kind !== 'internal');
    if (visible.length) event.body.hitBreakpointIds = visible.map((b) => b.id);
    for (const x of this.extensions) x.onStop?.(stop);
    this.sendEvent(event);
  }

  private async topFrameContext(): Promise<FrameContext> {
    return this.requireTarget().topFrameContext();
  }

  /** Drops everything valid for one stop only. */
  private beforeResume(): void {
    this.lastException = undefined;
    this.evaluateNames.clear();
    this.inspector?.invalidate();
    for (const x of this.extensions) x.onResume?.();
  }

  // ---- breakpoints ----

  protected override async setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): Promise<void> {
    await this.respond(response, async () => {
      const target = this.requireTarget();
      const file = args.source.path ?? args.source.name ?? '';
      const resolved = target.table.setSourceBreakpoints(file, (args.breakpoints ?? []).map((b) => ({
        line: b.line, condition: b.condition, hitCondition: b.hitCondition, logMessage: b.logMessage,
      })));
      await target.syncBreakpoints();
      response.body = { breakpoints: resolved.map((r) => this.toBreakpoint(r)) };
    });
  }

  protected override async setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): Promise<void> {
    await this.respond(response, async () => {
      const target = this.requireTarget();
      const resolved = target.table.setFunctionBreakpoints(args.breakpoints.map((b) => ({ name: b.name, condition: b.condition, hitCondition: b.hitCondition })));
      await target.syncBreakpoints();
      response.body = { breakpoints: resolved.map((r) => this.toBreakpoint(r)) };
    });
  }

  protected override async setInstructionBreakpointsRequest(response: DebugProtocol.SetInstructionBreakpointsResponse, args: DebugProtocol.SetInstructionBreakpointsArguments): Promise<void> {
    await this.respond(response, async () => {
      const target = this.requireTarget();
      const resolved = target.table.setInstructionBreakpoints(args.breakpoints.map((b) => ({
        instructionReference: b.instructionReference, offset: b.offset, condition: b.condition, hitCondition: b.hitCondition,
      })));
      await target.syncBreakpoints();
      response.body = { breakpoints: resolved.map((r) => this.toBreakpoint(r)) };
    });
  }

  protected override async setExceptionBreakPointsRequest(response: DebugProtocol.SetExceptionBreakpointsResponse, args: DebugProtocol.SetExceptionBreakpointsArguments): Promise<void> {
    await this.respond(response, async () => {
      const options = args.filterOptions ?? args.filters.map((filterId) => ({ filterId }));
      const verdicts: { verified: boolean; message?: string }[] = options.map(() => ({ verified: false, message: 'no extension offers this filter' }));
      for (const x of this.extensions) {
        if (!x.setExceptionFilters || !x.exceptionFilters) continue;
        const mine = options.map((o, i) => ({ o, i })).filter(({ o }) => x.exceptionFilters?.some((f) => f.filter === o.filterId));
        const answers = await x.setExceptionFilters(mine.map(({ o }) => o));
        mine.forEach(({ i }, k) => (verdicts[i] = answers[k] ?? { verified: true }));
      }
      if (this.target) await this.target.syncBreakpoints();
      response.body = { breakpoints: verdicts };
    });
  }

  protected override async dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments): Promise<void> {
    await this.respond(response, async () => {
      const inspector = this.requireInspector();
      const expression = args.variablesReference !== undefined
        ? this.evaluateNames.get(`${args.variablesReference}:${args.name}`) ?? args.name
        : args.name;
      const frame = args.frameId !== undefined ? this.frameContext(args.frameId) : await this.topFrameContext().catch(() => undefined);
      const address = await inspector.evaluate(`&(${expression})`, frame, 'watch');
      const size = await inspector.evaluate(`sizeof(${expression})`, frame, 'watch');
      const at = address.memoryReference ? parseAddress(address.memoryReference, this.requireTarget().addressWidth) : undefined;
      const bytes = Number(size.result);
      if (at === undefined || !Number.isInteger(bytes)) {
        response.body = { dataId: null, description: `"${expression}" has no address to watch.` };
      } else if (![1, 2, 4, 8].includes(bytes)) {
        response.body = { dataId: null, description: `"${expression}" is ${bytes} bytes; watch a member or element of 1, 2, 4 or 8 bytes.` };
      } else {
        response.body = {
          dataId: dataId(at, bytes, this.requireTarget().addressWidth),
          description: `${expression} (${bytes} bytes at 0x${at.toString(16)})`,
          accessTypes: ['write', 'read', 'readWrite'],
          canPersist: false,
        };
      }
    });
  }

  protected override async setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): Promise<void> {
    await this.respond(response, async () => {
      const target = this.requireTarget();
      const resolved = target.table.setDataBreakpoints(args.breakpoints.map((b) => ({
        dataId: b.dataId, accessType: b.accessType, condition: b.condition, hitCondition: b.hitCondition,
      })));
      await target.syncBreakpoints();
      response.body = { breakpoints: resolved.map((r) => this.toBreakpoint(r)) };
    });
  }

  private toBreakpoint(r: ResolvedBreakpoint): DebugProtocol.Breakpoint {
    const bp = new Breakpoint(r.verified) as DebugProtocol.Breakpoint;
    bp.id = r.id;
    if (r.line !== undefined) bp.line = r.line;
    if (r.file) bp.source = new Source(path.basename(r.file), r.file);
    if (r.message) bp.message = r.message;
    if (r.address !== undefined) bp.instructionReference = this.hexAddress(r.address);
    return bp;
  }

  // ---- run control ----

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    void this.respond(response, async () => {
      const threads = this.target && !this.target.isGone ? await this.target.threads() : [];
      response.body = { threads: threads.map((t) => new Thread(t.id, t.name)) };
    });
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    void this.respond(response, async () => {
      const target = this.requireTarget();
      this.beforeResume();
      target.continue();
      response.body = { allThreadsContinued: true };
    });
  }

  protected override nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
    void this.respond(response, async () => {
      const target = this.requireTarget();
      this.beforeResume();
      if (args.granularity === 'instruction') target.stepInstruction(args.threadId);
      else target.stepLine('over', args.threadId);
    });
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    void this.respond(response, async () => {
      const target = this.requireTarget();
      this.beforeResume();
      if (args.granularity === 'instruction') target.stepInstruction(args.threadId);
      else target.stepLine('into', args.threadId);
    });
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse, args: DebugProtocol.StepOutArguments): void {
    void this.respond(response, async () => {
      const target = this.requireTarget();
      this.beforeResume();
      target.stepOut(args.threadId);
    });
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    void this.respond(response, async () => {
      this.requireTarget().pause();
    });
  }

  protected override async exceptionInfoRequest(response: DebugProtocol.ExceptionInfoResponse): Promise<void> {
    await this.respond(response, async () => {
      for (const x of this.extensions) {
        const info = await x.exceptionInfo?.();
        if (info) {
          response.body = info;
          return;
        }
      }
      const last = this.lastException;
      if (!last) throw new Error('The guest did not stop on an exception.');
      response.body = { exceptionId: last.text ?? 'exception', description: last.description, breakMode: 'always' };
    });
  }

  // ---- stack, scopes, variables ----

  protected override async stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): Promise<void> {
    await this.respond(response, async () => {
      const frames = (await this.requireTarget().sourceFrames(64, args.threadId)).map((f) => {
        const source = f.file ? new Source(path.basename(f.file), f.file) : undefined;
        const sf = new StackFrame(f.id, f.name, source, f.line, 1) as DebugProtocol.StackFrame;
        sf.instructionPointerReference = this.hexAddress(f.pc);
        if (f.subtle) sf.presentationHint = 'subtle';
        return sf;
      });
      const start = args.startFrame ?? 0;
      const levels = args.levels && args.levels > 0 ? args.levels : frames.length;
      response.body = { stackFrames: frames.slice(start, start + levels), totalFrames: frames.length };
    });
  }

  private frameContext(frameId: number): FrameContext {
    return this.requireTarget().frameContext(frameId);
  }

  protected override async scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): Promise<void> {
    await this.respond(response, async () => {
      const frame = this.frameContext(args.frameId);
      const scopes: InspectScope[] = await this.requireInspector().scopes(frame);
      for (const x of this.extensions) if (x.scopes) scopes.push(...(await x.scopes(frame)));
      response.body = { scopes: scopes.map((s) => toScope(s)) };
    });
  }

  protected override async variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): Promise<void> {
    await this.respond(response, async () => {
      let variables: InspectVariable[] | undefined;
      if (args.variablesReference >= EXTENSION_REFERENCE_BASE) {
        for (const x of this.extensions) {
          variables = await x.variables?.(args.variablesReference, args.start, args.count);
          if (variables) break;
        }
      }
      variables ??= await this.requireInspector().variables(args.variablesReference, args.start, args.count);
      for (const v of variables) if (v.evaluateName) this.evaluateNames.set(`${args.variablesReference}:${v.name}`, v.evaluateName);
      response.body = { variables: variables.map((v) => ({ ...v })) };
    });
  }

  protected override async setVariableRequest(response: DebugProtocol.SetVariableResponse, args: DebugProtocol.SetVariableArguments): Promise<void> {
    await this.respond(response, async () => {
      const result = await this.requireInspector().setVariable(args.variablesReference, args.name, args.value);
      response.body = { ...result };
    });
  }

  protected override async evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): Promise<void> {
    await this.respond(response, async () => {
      if (args.context === 'repl') {
        for (const x of this.extensions) {
          const answer = await x.console?.(args.expression);
          if (answer !== undefined) {
            response.body = { result: answer, variablesReference: 0 };
            return;
          }
        }
      }
      const frame = args.frameId !== undefined ? this.frameContext(args.frameId) : undefined;
      const result = await this.requireInspector().evaluate(args.expression, frame, args.context);
      if (args.context === 'hover') {
        for (const x of this.extensions) {
          const note = await x.hoverNote?.(result).catch(() => undefined);
          if (note) result.result = `${result.result}  ⇒ ${note}`;
        }
      }
      response.body = { ...result };
    });
  }

  // ---- memory and disassembly ----

  protected override async readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): Promise<void> {
    await this.respond(response, async () => {
      const target = this.requireTarget();
      const width = target.addressWidth;
      const base = parseAddress(args.memoryReference, width);
      if (base === undefined) throw new Error(`"${args.memoryReference}" is not a memory address.`);
      const address = wrapAddress(base + (args.offset ?? 0), width);
      const count = Math.max(0, Math.min(args.count, 1 << 20));
      let data: Buffer;
      try {
        data = await target.readMemory(address, count);
      } catch {
        // Return the readable prefix, page by page.
        const parts: Buffer[] = [];
        let at = address;
        while (at < address + count) {
          const n = Math.min(0x1000 - (at - Math.floor(at / 0x1000) * 0x1000), address + count - at);
          try {
            parts.push(await target.readMemory(at, n));
          } catch {
            break;
          }
          at += n;
        }
        data = Buffer.concat(parts);
      }
      response.body = { address: formatAddress(address, width), data: data.toString('base64'), ...(data.length < count ? { unreadableBytes: count - data.length } : {}) };
    });
  }

  protected override async writeMemoryRequest(response: DebugProtocol.WriteMemoryResponse, args: DebugProtocol.WriteMemoryArguments): Promise<void> {
    await this.respond(response, async () => {
      const target = this.requireTarget();
      const base = parseAddress(args.memoryReference, target.addressWidth);
      if (base === undefined) throw new Error(`"${args.memoryReference}" is not a memory address.`);
      const data = Buffer.from(args.data, 'base64');
      await target.writeMemory(wrapAddress(base + (args.offset ?? 0), target.addressWidth), data);
      this.inspector?.invalidate();
      response.body = { bytesWritten: data.length };
    });
  }

  protected override async disassembleRequest(response: DebugProtocol.DisassembleResponse, args: DebugProtocol.DisassembleArguments): Promise<void> {
    await this.respond(response, async () => {
      const width = this.requireTarget().addressWidth;
      const base = parseAddress(args.memoryReference, width);
      if (base === undefined) throw new Error(`"${args.memoryReference}" is not a memory address.`);
      const address = wrapAddress(base + (args.offset ?? 0), width);
      const instructions = await this.requireInspector().disassemble(address, args.instructionCount, args.resolveSymbols ?? true, args.instructionOffset ?? 0);
      response.body = {
        instructions: instructions.map((i) => ({
          ...i,
          ...(i.location ? { location: new Source(i.location.name ?? path.basename(i.location.path), i.location.path) } : {}),
        })),
      };
    });
  }

  // ---- custom requests (extensions) ----

  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    if (command === SELECT_THREAD_REQUEST) {
      void this.respond(response, async () => {
        const threadId = (args as { threadId?: unknown } | undefined)?.threadId;
        if (typeof threadId !== 'number') throw new Error(`${SELECT_THREAD_REQUEST} needs a numeric "threadId".`);
        this.requireTarget().selectThread(threadId);
      });
      return;
    }
    const owner = this.extensions.find((x) => x.commands.includes(command));
    if (!owner?.customRequest) {
      super.customRequest(command, response, args);
      return;
    }
    void this.respond(response, async () => {
      response.body = await owner.customRequest?.(command, args);
    });
  }

  // ---- helpers ----

  private requireTarget(): Target {
    if (!this.target) throw new Error('No guest is being debugged; start the session with launch or attach.');
    return this.target;
  }

  private requireInspector(): Inspector {
    this.requireTarget();
    return this.inspector as Inspector;
  }

  /** Runs `body` and sends the response, or an error response with the error's sentence. */
  private async respond(response: DebugProtocol.Response, body: () => Promise<void>): Promise<void> {
    try {
      await body();
      this.sendResponse(response);
    } catch (e) {
      const message = messageOf(e).replace(/\{/g, '(').replace(/\}/g, ')');
      this.sendErrorResponse(response, { id: ERROR_ID, format: message, showUser: false });
    }
  }
}

function toScope(s: InspectScope): DebugProtocol.Scope {
  const scope = new Scope(s.name, s.variablesReference, s.expensive) as DebugProtocol.Scope;
  if (s.presentationHint) scope.presentationHint = s.presentationHint;
  if (s.namedVariables !== undefined) scope.namedVariables = s.namedVariables;
  if (s.indexedVariables !== undefined) scope.indexedVariables = s.indexedVariables;
  return scope;
}


