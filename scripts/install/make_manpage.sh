#!/usr/bin/env bash
# Writes vitq's man page (roff) from the CLI's own --help texts, so that the page can never
# disagree with the binary: the top-level help, then each subcommand's. Run by the build
# (apps/CMakeLists.txt); no date in the page, so the same binary gives the same bytes.
# Usage: make_manpage.sh VITQ_BINARY OUT.1
set -euo pipefail
vitq="$1"
out="$2"

# Preformatted help text as roff: backslashes escaped, lines that begin with . or ' guarded, and
# --threads' default (this machine's core count) left out: the page is for every machine.
roff_text() {
  sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/" -e 's/\(--threads INT:INT in \[1 - 256\]\)=[0-9]*/\1/'
}

version="$("$vitq" --version | awk '{print $2}')"
# The help names the binary by the path it was run with; the page names the installed command.
top_help="$("$vitq" --help | sed "s#^Usage: [^ ]*#Usage: vitq#")"
subcommands="$(printf '%s\n' "$top_help" | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF {print $1}')"

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
{
  echo ".TH VITQ 1 \"\" \"vitq $version\" \"User Commands\""
  echo ".SH NAME"
  echo "vitq \\- post-training quantization of ONNX models (vision transformers, CNNs, language models)"
  echo ".SH SYNOPSIS"
  echo ".B vitq"
  echo "[\\fIGLOBAL OPTIONS\\fR] \\fISUBCOMMAND\\fR [\\fIOPTIONS\\fR]"
  echo ".SH DESCRIPTION"
  echo "vitq reads an ONNX model, calibrates it on sample data, quantizes it with a recipe (min/max,"
  echo "percentile, entropy, MSE, RepQ-ViT, NoisyQuant, Q-HyViT reconstruction, I-ViT integer-only,"
  echo "GPTQ/AWQ weight-only, or an automatic choice) and writes a quantized ONNX model with an"
  echo "accuracy report comparing it with the float model."
  echo ".PP"
  echo ".nf"
  printf '%s\n' "$top_help" | roff_text
  echo ".fi"
  echo ".SH SUBCOMMANDS"
  for sub in $subcommands; do
    echo ".SS vitq $sub"
    echo ".nf"
    "$vitq" "$sub" --help | sed "s#^Usage: [^ ]* #Usage: vitq #" | roff_text
    echo ".fi"
  done
  echo ".SH EXIT STATUS"
  echo "0 success; 1 internal error (a bug in vitq); 2 bad usage or bad input (the message names the"
  echo "file, node or tensor); 3 an accuracy gate failed (\\-\\-fail\\-if, an unmet \\-\\-budget, or the"
  echo "fidelity guard of vitq quantize)."
  echo ".SH ENVIRONMENT"
  echo ".TP"
  echo ".B SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_MAX, SLURM_ARRAY_TASK_STEP, SLURM_ARRAY_TASK_COUNT"
  echo "read by vitq calibrate \\-\\-shard auto in a Slurm job array."
  echo ".TP"
  echo ".B JOB_COMPLETION_INDEX, VITQ_SHARD_COUNT"
  echo "read by vitq calibrate \\-\\-shard auto in a Kubernetes Indexed Job."
  echo ".TP"
  echo ".B VITQ_PROGRESS"
  echo "always or never: draw the progress bar on stderr regardless of whether it is a terminal."
  echo ".SH SEE ALSO"
  echo "The command-line reference, recipes and report format under /usr/share/doc/vitq/ (cli.md,"
  echo "recipes.md, report-format.md, scale-out.md)."
} > "$tmp"
mv "$tmp" "$out"
trap - EXIT
