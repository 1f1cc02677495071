import { useQuery } from '@tanstack/react-query';
import { mkm } from '../api.dom';

/**
 * Where a file the page handed over for download went, as far as the page can know it. In
 * browser mode the browser saves it in its downloads; the desktop app asks where with a
 * main-side save dialog whose answer the page never learns, so it must not claim a place.
 */
export function savedWhere(fileName: string, desktop: boolean): string {
  return desktop
    ? `Offered ${fileName} to the save dialog (it says where the file goes)`
    : `Saved as ${fileName} in your downloads`;
}

export function useSavedWhere(): (fileName: string) => string {
  const status = useQuery({ queryKey: ['app.status'], queryFn: () => mkm().app.status() });
  const desktop = status.data?.mode === 'electron';
  return (fileName) => savedWhere(fileName, desktop);
}
