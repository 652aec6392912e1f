// Errors the inspector reports to the user: one sentence that says what happened and what to do.

/** An expression that cannot be parsed or evaluated, or a value that cannot be set. */
export class InspectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InspectError';
  }
}

/** The expression text is not valid C (position is the character offset of the problem). */
export class ExpressionSyntaxError extends InspectError {
  constructor(message: string, readonly position: number) {
    super(message);
    this.name = 'ExpressionSyntaxError';
  }
}

/** The expression is valid C but cannot be evaluated here (unknown name, bad types, unreadable memory). */
export class EvaluationError extends InspectError {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationError';
  }
}

/** A variable reference that was invalidated by a resume or never existed. */
export class StaleReferenceError extends InspectError {
  constructor(reference: number) {
    super(`Variable reference ${reference} is no longer valid because the target ran; ask for the scopes of the new stop.`);
    this.name = 'StaleReferenceError';
  }
}
