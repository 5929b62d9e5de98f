"""What ONNX Runtime's integer kernels need from the exported model on this CPU."""


def vitq_weight_flags():
    """["--reduce-range"] on x86 CPUs without VNNI, whose u8s8 kernels saturate int16 pair sums
    with full-range int8 weights (docs/cli.md, --reduce-range); [] elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return []
    if " avx2" not in flags:
        return []
    vnni = any(f" {name}" in flags for name in ("avx512_vnni", "avx_vnni", "amx_int8"))
    return [] if vnni else ["--reduce-range"]
