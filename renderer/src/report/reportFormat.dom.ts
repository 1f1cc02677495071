import type { PciExport, PciStatus } from '../../../shared/contract/report.std';
import type { BadgeTone } from '../ui/bits.dom';

export const STATUS_TONES: Record<PciStatus, BadgeTone> = {
  met: 'ok',
  attention: 'warn',
  manual: 'info',
  'n/a': 'neutral',
};

/**
 * Saves an exported report through a Blob and an object URL (a download, not a fetch: the CSP
 * allows it, as the audit export proves). The PDF arrives as base64 and is decoded to bytes here.
 * Returns false when the platform cannot download.
 */
export function downloadExport(file: PciExport): boolean {
  if (typeof URL.createObjectURL !== 'function') return false;
  let url: string;
  try {
    const body =
      file.encoding === 'base64' ? Uint8Array.from(atob(file.content), (c) => c.charCodeAt(0)) : file.content;
    url = URL.createObjectURL(
      new Blob([body], { type: file.encoding === 'utf8' ? `${file.mime};charset=utf-8` : file.mime }),
    );
  } catch {
    return false;
  }
  const a = document.createElement('a');
  a.href = url;
  a.download = file.fileName;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoke later: the download reads the blob after the click returns.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return true;
}
