"""Checkers every layer uses: verifiable-instruction constraints (lm-eval's IFEval checkers),
their repairs, and answer extraction and matching. Signals grade with them, data builds prompts
with them, evaluate scores benchmarks with them; they import nothing above `data`."""
