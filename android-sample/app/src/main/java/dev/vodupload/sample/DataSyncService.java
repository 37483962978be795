package dev.vodupload.sample;

import androidx.lifecycle.LifecycleService;

/**
 * A LifecycleService that hears Android 15's daily limit on dataSync foreground services
 * (`Service.onTimeout(int, int)`, API 35) through {@link #onDataSyncTimeout()}.
 *
 * <p>In Java because the method must override on API 35+ while the CI build compiles against
 * API 34 (the newest framework jar it has): Kotlin insists on `override` exactly when the
 * compile SDK has the method, so one Kotlin source cannot serve both compile SDKs; a Java
 * method with the same signature overrides at run time either way. On older systems it is
 * never called.
 */
public abstract class DataSyncService extends LifecycleService {
    @SuppressWarnings("MissingOverride") // an override from API 35 on; see the class comment
    public void onTimeout(int startId, int fgsType) {
        onDataSyncTimeout();
    }

    /** The system is about to stop the service: stop within a few seconds. */
    protected abstract void onDataSyncTimeout();
}
