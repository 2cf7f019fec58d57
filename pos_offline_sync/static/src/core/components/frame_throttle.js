/** @odoo-module */
// Progress callbacks can fire thousands of times a second (one per order); the screen changes at
// most once a frame. A render per call froze the sync dialog for seconds over 10,000 orders.

function defaultRequestFrame(fn) {
    return typeof requestAnimationFrame === "function"
        ? requestAnimationFrame(fn)
        : setTimeout(fn, 16);
}

function defaultCancelFrame(id) {
    if (typeof cancelAnimationFrame === "function") {
        cancelAnimationFrame(id);
    } else {
        clearTimeout(id);
    }
}

/**
 * Wraps `fn` so that calls made between two frames run it once, at the next frame, with the
 * latest call's arguments. `.cancel()` drops a call still waiting for its frame.
 * @param {(...args: any[]) => void} fn
 * @param {{requestFrame?: Function, cancelFrame?: Function}} [options] frame scheduler (tests)
 * @returns {((...args: any[]) => void) & {cancel: () => void}}
 */
export function throttleToFrames(
    fn,
    { requestFrame = defaultRequestFrame, cancelFrame = defaultCancelFrame } = {}
) {
    let frame = null;
    let latest = null;
    const throttled = (...args) => {
        latest = args;
        if (frame === null) {
            frame = requestFrame(() => {
                frame = null;
                const callArgs = latest;
                latest = null;
                fn(...callArgs);
            });
        }
    };
    throttled.cancel = () => {
        if (frame !== null) {
            cancelFrame(frame);
        }
        frame = null;
        latest = null;
    };
    return throttled;
}

/**
 * Resolves after the browser drew the current DOM: the task after the next frame. A page that
 * draws no frames (hidden) resolves after `maxMs` instead, when given.
 * @param {{maxMs?: number}} [options]
 * @returns {Promise<void>}
 */
export function afterPaint({ maxMs } = {}) {
    return new Promise((resolve) => {
        const timer = Number.isFinite(maxMs) ? setTimeout(resolve, maxMs) : null;
        defaultRequestFrame(() =>
            setTimeout(() => {
                clearTimeout(timer);
                resolve();
            }, 0)
        );
    });
}
