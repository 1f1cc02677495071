// Every domain's commands, registered with the CLI in one place.
import './tokens.cli';
import './audit.cli';
import './gateway.cli';
import './lifecycle.cli';
import './usage.cli';
import './console.cli';
import './troubleshoot.cli';
import './exchange.cli';
import './report.cli';
import './support.cli';
