// What every view returns: a way to release its timers, streams and requests when the user leaves it.
export interface ViewHandle {
  close(): void;
}
