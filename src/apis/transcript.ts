/** A piece of transcript with its time range in seconds: YouTube's captions produce it, OpenAI reads it. */
export interface TimedSegment {
  start: number;
  end: number;
  text: string;
}
