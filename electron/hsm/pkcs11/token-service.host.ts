import { MkmError } from '../../../shared/errors.std';
import { silentLogger, type Logger } from '../../core/logger.main';
import type {
  BatchResult,
  CapabilitiesResult,
  ChangePinParams,
  CipherParams,
  CreateCsrParams,
  CsrResult,
  DataResult,
  DestroyObjectParams,
  DestroyResult,
  EmptyParams,
  EncryptBatchParams,
  ExportPublicKeyParams,
  ExportPublicKeyResult,
  GenerateKeyParams,
  GenerateKeyResult,
  GenerateRandomParams,
  HmacSignParams,
  HmacVerifyParams,
  ImportKeyParams,
  ImportKeyResult,
  InitTokenParams,
  InitTokenResult,
  InitUserPinParams,
  KcvResult,
  KeyRefParams,
  ListObjectsParams,
  ListSlotsParams,
  LoadModuleParams,
  LoginParams,
  LoginResult,
  MacResult,
  ModuleInfo,
  ObjectInfo,
  ObjectRefParams,
  OkResult,
  SlotParams,
  SlotSummary,
  UnwrapKeyParams,
  UnwrapKeyResult,
  VerifyResult,
  WellKnownModule,
  WrapKeyParams,
  WrapResult,
} from './types.std';

export interface TokenServiceOptions {
  logger?: Logger;
}

const todo = (): never => {
  throw new MkmError('NOT_IMPLEMENTED');
};

/** SKELETON: signatures are final; bodies are being filled in. */
export class TokenService {
  private readonly logger: Logger;

  constructor(options: TokenServiceOptions = {}) {
    this.logger = options.logger ?? silentLogger;
  }

  async loadModule(_p: LoadModuleParams): Promise<ModuleInfo> {
    return todo();
  }
  async unloadModule(_p?: EmptyParams): Promise<OkResult> {
    return todo();
  }
  async getModuleInfo(_p?: EmptyParams): Promise<ModuleInfo | null> {
    return todo();
  }
  async wellKnownModules(_p?: EmptyParams): Promise<WellKnownModule[]> {
    return todo();
  }
  async listSlots(_p?: ListSlotsParams): Promise<SlotSummary[]> {
    return todo();
  }
  async login(_p: LoginParams): Promise<LoginResult> {
    return todo();
  }
  async logout(_p: SlotParams): Promise<OkResult> {
    return todo();
  }
  async changePin(_p: ChangePinParams): Promise<OkResult> {
    return todo();
  }
  async initToken(_p: InitTokenParams): Promise<InitTokenResult> {
    return todo();
  }
  async initUserPin(_p: InitUserPinParams): Promise<OkResult> {
    return todo();
  }
  async generateKey(_p: GenerateKeyParams): Promise<GenerateKeyResult> {
    return todo();
  }
  async listObjects(_p: ListObjectsParams): Promise<ObjectInfo[]> {
    return todo();
  }
  async getObject(_p: ObjectRefParams): Promise<ObjectInfo> {
    return todo();
  }
  async exportPublicKey(_p: ExportPublicKeyParams): Promise<ExportPublicKeyResult> {
    return todo();
  }
  async createCsr(_p: CreateCsrParams): Promise<CsrResult> {
    return todo();
  }
  async kcv(_p: KeyRefParams): Promise<KcvResult> {
    return todo();
  }
  async encrypt(_p: CipherParams): Promise<DataResult> {
    return todo();
  }
  async decrypt(_p: CipherParams): Promise<DataResult> {
    return todo();
  }
  async encryptBatch(_p: EncryptBatchParams): Promise<BatchResult> {
    return todo();
  }
  async hmacSign(_p: HmacSignParams): Promise<MacResult> {
    return todo();
  }
  async hmacVerify(_p: HmacVerifyParams): Promise<VerifyResult> {
    return todo();
  }
  async wrapKey(_p: WrapKeyParams): Promise<WrapResult> {
    return todo();
  }
  async unwrapKey(_p: UnwrapKeyParams): Promise<UnwrapKeyResult> {
    return todo();
  }
  async importKey(_p: ImportKeyParams): Promise<ImportKeyResult> {
    return todo();
  }
  async destroyObject(_p: DestroyObjectParams): Promise<DestroyResult> {
    return todo();
  }
  async generateRandom(_p: GenerateRandomParams): Promise<DataResult> {
    return todo();
  }
  async probeCapabilities(_p: SlotParams): Promise<CapabilitiesResult> {
    return todo();
  }
}
