// Block.jitState values (a module of its own: the hart, the code cache and the JIT all use them,
// and the JIT imports the hart's state layout).
/** Not translated (yet): counting executions. */
export const JIT_NONE = 0;
/** Waiting in the JIT's batch. */
export const JIT_QUEUED = 1;
/** Translated: Block.jitIndex is its function's table index. */
export const JIT_DONE = 2;
/** Never translated: no translatable prefix, not cached, or its page was invalidated. */
export const JIT_NEVER = 3;
