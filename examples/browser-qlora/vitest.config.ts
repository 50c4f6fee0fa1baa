import { packageConfig } from '../../vitest.shared';

// Training in SwiftShader takes most of a minute on a 2-core machine.
export default packageConfig({ testTimeout: 120_000 });
