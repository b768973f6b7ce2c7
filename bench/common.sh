# Shared by the bench scripts: the same images for Wemu and QEMU.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
img="$root/images/riscv64"
qemu_cmd=(qemu-system-riscv64 -M virt -smp 1 -m 256M -nographic -bios "$img/fw_dynamic.bin"
  -kernel "$img/Image" -initrd "$img/initramfs.cpio.gz" -append console=ttyS0)
wemu_cmd=("$root/wemu" -M virt -smp 1 -m 256M -nographic -bios "$img/fw_dynamic.bin"
  -kernel "$img/Image" -initrd "$img/initramfs.cpio.gz" -append console=ttyS0 -d stats)
command -v qemu-system-riscv64 >/dev/null || { echo "bench: install qemu-system-misc" >&2; exit 1; }
"$root/wemu" --version >/dev/null   # build once, outside the timings
field() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const v=r['$1']; console.log(typeof v==='number'?v.toFixed(2):v)"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
