import * as AlertDialog from '@radix-ui/react-alert-dialog';

/** The one way out of a lifecycle alert once its outcome is said: Close, focused. */
export function AlertClose() {
  return (
    <div className="dialog-actions">
      <AlertDialog.Cancel asChild>
        <button type="button" className="primary" autoFocus>
          Close
        </button>
      </AlertDialog.Cancel>
    </div>
  );
}
