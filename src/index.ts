/**
 * Quest for TypeScript: durable, long-running asynchronous workflows. The public API, by name.
 */
export { Historian } from './core/historian.js';
export type { HistorianOptions, SuspendOptions, WorkflowFunction, WorkflowOutcome, WorkflowStatus } from './core/historian-types.js';
export { step } from './core/step.js';
export type { Step, StepOptions, RetryPolicy } from './core/step.js';
export { sleep } from './core/sleep.js';
export { loop, done } from './core/loop.js';
export type { LoopDone } from './core/loop.js';
export { task } from './core/task.js';
export type { TaskHandle, TaskStarter } from './core/task.js';
export { queue, state, event, identityQueue, multiQueue, Queue, State, Event, IdentityQueue, MultiQueue } from './core/resource-handles.js';
export type { WaitOptions } from './core/timeout.js';
export type { MultiQueueOptions } from './core/resource-handles.js';
export { versioned, getVersion, type VersionedOptions } from './core/versioning.js';
export { alias } from './core/alias.js';
export { startChild, callChild } from './core/child.js';
export type { ChildOptions, ChildWorkflow, ChildWorkflowHost } from './core/child.js';
export type { Alias, AliasRegistry } from './core/alias.js';
export { wrapSteps, abortSignal } from './core/helpers.js';
export type { Stepped } from './core/helpers.js';
export type { ResourceInfo, ResourceSnapshot, ResourceStream } from './core/resource-stream.js';
export type { History, HistoryChange } from './core/history.js';
export { FORMAT_VERSION, upgradeRecord, describeRecord } from './core/records.js';
export type { HistoryRecord, RecordType, ResourceKey, StepEndRecord, ExternalEventRecord, InternalEventRecord, CheckpointRecord } from './core/records.js';
export { registerType, registerError, serialize, deserialize } from './core/serializer.js';
export type { Json, TypeSerializer, SerializedError } from './core/serializer.js';
export {
  QuestError,
  isQuestError,
  isSuspension,
  NotInWorkflowError,
  InvalidNameError,
  InvalidArgumentError,
  NonDeterminismError,
  VersionConflictError,
  CorruptHistoryError,
  UnsupportedFormatError,
  NotSerializableError,
  DuplicateResourceError,
  ResourceNotFoundError,
  UnknownActionError,
  DuplicateAliasError,
  WorkflowSuspendedError,
  TaskCancelledError,
  AlreadyRunningError,
  ConfigurationMismatchError,
  StorageError,
  WorkflowNotFoundError,
  DuplicateWorkflowError,
  UnknownWorkflowTypeError,
  WorkflowCancelledError,
  WorkflowFinishedError,
  EventExpiredError,
  StoreOwnedError,
  NotAQuestStoreError,
  TimeoutError,
  LeaseLostError,
} from './core/errors.js';
export type { QuestErrorCode, FinishedState, HistoryDamage } from './core/errors.js';
export { createLogger, logger, workflowLogFields } from './logging.js';
export type { WorkflowLogFields } from './logging.js';
export { MemoryHistory } from './storage/memory.js';
// The store interface and its optional capabilities with their guards: for a store of one's own, and for code
// that asks what a store can do (the stores themselves are in the subpaths: quest-ts/sqlite, /postgres, ...).
export { hasEntryWrites, hasInbox, hasOwnership, hasLeases, EVENT_OUTCOME_RETENTION_MS } from './storage/store.js';
export type {
  Store,
  WorkflowEntry,
  WorkflowState,
  WorkflowEntryWrites,
  InboxEvent,
  PostedEvent,
  EventVerdict,
  EventOutcome,
  EventInbox,
  StoreOwner,
  StoreOwnership,
  WorkflowLease,
  WorkflowLeases,
  StoreChange,
  ClaimRequest,
} from './storage/store.js';
export { hasPages, MAX_WORKFLOW_PAGE } from './storage/workflow-pages.js';
export type { WorkflowPageQuery, WorkflowEntryPage, WorkflowCount, WorkflowCountFilter, WorkflowPages } from './storage/workflow-pages.js';
export { hasHistoryScan, runningHistories } from './storage/history-scan.js';
export type { HistoryScan, HistoryScanBatch, HistoryScanQuery, ScannedHistory } from './storage/history-scan.js';
export { versionsInUse } from './inspect/versions.js';
export type { VersionUsage, VersionsInUseOptions } from './inspect/versions.js';
export { hasTimeline, MAX_TIME_BUCKETS } from './storage/workflow-timeline.js';
export type { TimeBuckets, TimeCounts, WorkflowTimeline } from './storage/workflow-timeline.js';
export { WorkflowManager } from './manager/workflow-manager.js';
export { schedule, unschedule, scheduleId, nextFiring, SCHEDULE_TYPE } from './manager/schedules.js';
export type { ScheduleSpec } from './manager/schedules.js';
export type {
  AnyWorkflow,
  WorkflowRegistry,
  WorkflowType,
  WorkflowArgs,
  WorkflowResult,
  ManagerOptions,
  StartOptions,
  WorkflowHandle,
  ManagedStatus,
  WorkflowInfo,
  ResidencyInfo,
} from './manager/types.js';
export type { HeldStatus, ListPage, ListPageQuery, StatusCount } from './manager/list-pages.js';
export { QueueProxy, StateProxy, EventProxy, IdentityQueueProxy } from './manager/proxies.js';
export type { SignalOptions } from './manager/signals.js';
export type { LeaseOptions } from './manager/claims.js';
