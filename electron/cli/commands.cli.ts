// Every domain's commands, registered with the CLI in one place.
import './tokens.cli';
import './audit.cli';
import './gateway.cli';
import './lifecycle.cli';
