/**
 * One GPU per rank on a host with several. WebGPU cannot enumerate adapters and Dawn picks the
 * first one, so the choice is made below it, in Vulkan: Mesa's device-select layer (a Vulkan layer
 * that sits above every driver, NVIDIA's and AMD's included, shipped with mesa-vulkan-drivers)
 * honours DRI_PRIME=pci-DDDD_BB_DD_F, and with MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1 it
 * shows the process only that device. Local rank r takes the r-th GPU in PCI bus order (the order
 * of nvidia-smi and CUDA_DEVICE_ORDER=PCI_BUS_ID). Set the variables yourself to choose otherwise;
 * they are then left alone. Must run before the first WebGPU device is opened.
 */
import { nodeModules } from '@q/model';

/** A PCI display controller as listed in /sys/bus/pci/devices. */
export interface PciGpu {
  /** Domain:bus:device.function, e.g. 0000:18:00.0. */
  address: string;
  /** PCI vendor id, e.g. 0x10de. */
  vendor: number;
  /** PCI class code, e.g. 0x030200 (3D controller). */
  pciClass: number;
}

/** Vendors whose display controllers are GPUs (NVIDIA, AMD, Intel); BMC graphics (ASPEED, Matrox) are not. */
const GPU_VENDORS = new Set([0x10de, 0x1002, 0x8086]);

/** The GPUs among PCI devices, in bus order. */
export function gpusOf(devices: PciGpu[]): PciGpu[] {
  return devices
    .filter((d) => d.pciClass >> 16 === 0x03 && GPU_VENDORS.has(d.vendor))
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/**
 * The environment that gives local rank `localRank` its own GPU, or null when there is nothing to
 * choose (one GPU or none) or the user already chose (DRI_PRIME or MESA_VK_DEVICE_SELECT set).
 */
export function gpuSelectEnv(
  gpus: PciGpu[],
  localRank: number,
  env: Record<string, string | undefined> = process.env,
): Record<string, string> | null {
  if (gpus.length < 2 || env.DRI_PRIME || env.MESA_VK_DEVICE_SELECT) return null;
  const g = gpus[localRank % gpus.length]!;
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(g.address);
  if (!m) return null;
  return { DRI_PRIME: `pci-${m[1]}_${m[2]}_${m[3]}_${m[4]}`, MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' };
}

/** Reads the host's PCI display controllers (Linux sysfs; empty elsewhere). */
export async function listPciGpus(root = '/sys/bus/pci/devices'): Promise<PciGpu[]> {
  const { fs } = await nodeModules();
  const names = await fs.readdir(root).catch(() => [] as string[]);
  const out: PciGpu[] = [];
  for (const address of names) {
    const read = (f: string) => fs.readFile(`${root}/${address}/${f}`, 'utf8').then((s) => Number.parseInt(s.trim(), 16), () => NaN);
    const [pciClass, vendor] = await Promise.all([read('class'), read('vendor')]);
    if (Number.isFinite(pciClass) && Number.isFinite(vendor)) out.push({ address, vendor, pciClass });
  }
  return gpusOf(out);
}

/**
 * Gives this rank its GPU by local rank when the host has several: sets DRI_PRIME and
 * MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE in this process's environment. Returns the address
 * chosen, or null when nothing was changed.
 */
export async function selectLocalGpu(localRank: number, localSize: number): Promise<string | null> {
  if (localSize < 2) return null;
  const gpus = await listPciGpus();
  const env = gpuSelectEnv(gpus, localRank);
  if (!env) return null;
  Object.assign(process.env, env);
  return gpus[localRank % gpus.length]!.address;
}
