// quantize_with_api MODEL SAMPLES RECIPE OUT: what `vitq quantize MODEL --data SAMPLES --recipe
// RECIPE --calib-samples 32 --eval-samples 8 --threads 1 -o OUT` writes, through the C++ API.
#include <cstdio>

#include <vitq/api/vitq.h>

static int fail(const vitq::Status& status) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  return 2;
}

int main(int argc, char** argv) {
  if (argc != 5) return fail(vitq::invalidArgument("usage: quantize_with_api MODEL SAMPLES RECIPE OUT"));
  auto in = vitq::loadQuantizationInputs(argv[1], argv[2], {32, 8, 0}, 1);
  if (!in.isOk()) return fail(in.status());
  vitq::QuantizeRequest request;
  request.recipe = argv[3];
  request.threads = 1;
  if (auto done = vitq::quantize(*in, request); !done.isOk()) return fail(done.status());
  auto report = vitq::accuracyReport(*in, request);
  if (!report.isOk()) return fail(report.status());
  if (vitq::Status saved = vitq::saveModel(in->working, argv[4]); !saved.isOk()) return fail(saved);
  std::printf("output SQNR %.2f dB\n", (*report)["summary"]["output_sqnr_db"].get<double>());
  return 0;
}
