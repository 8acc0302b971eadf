// The package's own directory, where lambdas/, state-machines/ and lib/bundle-stubs/ live: this
// repository when run from source, node_modules/eks-aviatrix-onboarding when an app embeds the
// packed package (whose lib/ code then runs compiled, from dist/pkg/lib).
import * as fs from 'fs';
import * as path from 'path';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'state-machines')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`eks-aviatrix-onboarding: no package directory (with state-machines/) above ${from}; reinstall the package`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(__dirname);
export const ASL_DIR = path.join(PACKAGE_ROOT, 'state-machines');
